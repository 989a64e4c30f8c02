// Stats: log histograms, running aggregates, windowed statistics.
export * from './histogram.js';
export * from './aggregates.js';
export * from './window.js';
