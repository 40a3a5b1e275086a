// Public face of @tandem/serving.
export {};
