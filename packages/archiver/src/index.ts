// Public face of @tandem/archiver.
export {};
