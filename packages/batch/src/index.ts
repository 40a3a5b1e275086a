// Public face of @tandem/batch.
export {};
