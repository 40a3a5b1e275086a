// Public face of @tandem/cli.
export {};
