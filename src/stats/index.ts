// Stats: log histograms, running aggregates, windowed statistics.
export * from './histogram.js';
export * from './aggregates.js';
export * from './bucket-pool.js';
export * from './fold.js';
export * from './window.js';
