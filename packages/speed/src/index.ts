// Public face of @tandem/speed.
export {};
