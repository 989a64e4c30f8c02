// PLACEHOLDER barrel (owner: collector helper)
export {};
