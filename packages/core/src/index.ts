// Public face of @tandem/core.
export {};
