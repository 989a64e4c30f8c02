// HTTP: the seed's REST endpoints, Prometheus /metrics, serve().
export {
  createMetricsHandler,
  API_ROUTES,
  MAX_BODY_BYTES,
  type MetricsHandler,
  type MetricsHandlerOptions,
  type HttpMetricsSource,
  type ExtraRoutes,
  type NextFunction,
} from './handler.js';
export { serve, type ServeOptions, type RunningServer } from './serve.js';
