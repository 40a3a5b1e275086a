// Public face of @tandem/lake.
export {};
