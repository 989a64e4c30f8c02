// PLACEHOLDER barrel (owner: exporters helper)
export {};
