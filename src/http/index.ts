// PLACEHOLDER barrel (owner: http helper)
export {};
