/**
 * Every GPU field, once. One row says what the field is (key, snake_case
 * name, kind, nullability, unit) and where its value comes from when the
 * probe decodes a native GPU block (a slot and its native units per unit, a
 * derivation, or the probe's context). The lists below the table say where
 * each field appears:
 *
 *   GPU_FIELDS           GpuReading (readGpus, readGpusSync, watch, info), in this order
 *   GPU_RECORD_KEYS      GpuUsageMetric: the stored history, JSON/CSV export, import
 *   GPU_GAUGES           Prometheus text, prom-client and OpenTelemetry gauges
 *   GPU_RUN_SAMPLE_KEYS  `perfprobe run` samples (JSON, status line)
 *   GPU_STREAM_KEYS      the dashboard's SSE rows
 *   GPU_PROCESS_FIELDS   GpuReading.processes entries (from the addon's process-table objects)
 *   CLOCKS_EVENT_REASONS the names of the clocks-event (throttle) reason bits
 *   GPU_ECC_COUNTERS     the four ECC counters (GpuReading.eccErrors, Prometheus, dcgm, OpenTelemetry)
 *
 * Adding a GPU field (docs/ARCHITECTURE.md has the recipe): a slot in
 * native/gpu/gpu_api.h and ../schema/layout.ts, the NVML call that fills it
 * in native/gpu/gpu_reader.cc, its line in GpuReading, its row here, and its
 * key in the lists it should appear in. Decoders, store columns, record
 * objects, writers, readers, checks and gauges follow from the table.
 */
import { BYTES_PER_MB, type GpuSlotName } from './layout.js';
import { field, type FieldKind, type FieldSpec } from './field.js';
import { sampleSchema } from './record.js';

export type GpuStatus = 'ok' | 'lost' | 'error';

/** Which of NVML's process lists a process is on. */
export type GpuProcessType = 'compute' | 'graphics' | 'compute+graphics';

/** One process on a GPU, as nvitop lists it (compute and graphics lists merged by pid). */
export interface GpuProcess {
  pid: number;
  /** null when the driver does not say (e.g. under some virtualisation). */
  usedMemoryMb: number | null;
  /** From /proc (comm, widened to argv[0]'s base name when truncated); null when the pid is not visible here. */
  name: string | null;
  type: GpuProcessType;
  /** From nvmlDeviceGetProcessUtilization: the newest sample since the previous details read; null when not sampled. */
  smUtilPercent: number | null;
  memoryUtilPercent: number | null;
  encoderUtilPercent: number | null;
  decoderUtilPercent: number | null;
  /** MIG attribution of the process (null without MIG or on drivers whose list does not say). */
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
}

/** ECC error counts (nvmlDeviceGetTotalEccErrors); each null when that counter is unsupported. */
export interface GpuEccErrors {
  /** Single-bit (corrected) errors since the driver loaded. */
  correctedVolatile: number | null;
  /** Double-bit (uncorrected) errors since the driver loaded. */
  uncorrectedVolatile: number | null;
  /** Over the device's lifetime. */
  correctedAggregate: number | null;
  uncorrectedAggregate: number | null;
}

/** One MIG device (a GPU instance / compute instance pair) of a MIG-enabled GPU. */
export interface GpuMigDevice {
  /** MIG device index under its parent GPU. */
  index: number;
  /** "MIG-..." (null when unknown). */
  uuid: string | null;
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
  memoryTotalMb: number | null;
  memoryUsedMb: number | null;
}

/** MIG mode and devices (nvmlDeviceGetMigMode); null on GPUs without MIG. */
export interface GpuMig {
  currentMode: boolean;
  /** The mode after the next GPU reset. */
  pendingMode: boolean;
  /** Only while currentMode. */
  devices: GpuMigDevice[];
}

export interface GpuReading {
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  /** Device index as NVML / nvidia-smi number it. */
  gpuId: number;
  name: string | null;
  uuid: string | null;
  loadPercent: number | null;
  memoryUtilPercent: number | null;
  memoryTotalMb: number | null;
  /** The v2 figure nvidia-smi shows (driver-reserved memory excluded). */
  memoryUsedMb: number | null;
  memoryReservedMb: number | null;
  memoryFreeMb: number | null;
  /** memoryUsedMb / memoryTotalMb x 100. */
  memoryPercent: number | null;
  temperatureCelsius: number | null;
  powerWatts: number | null;
  powerLimitWatts: number | null;
  smClockMhz: number | null;
  memoryClockMhz: number | null;
  fanPercent: number | null;
  /** 0..15 for P0 (fastest) .. P15; null when unknown. */
  performanceState: number | null;
  /**
   * Why the clocks are held down now (nvmlDeviceGetCurrentClocksEventReasons):
   * CLOCKS_EVENT_REASONS names, unknown bits as `bit_<n>`; [] when none.
   * The arrays are shared and frozen (one per bitmask).
   */
  clocksEventReasons: readonly string[] | null;
  /** HBM / memory temperature (NVML_FI_DEV_MEMORY_TEMP). */
  memoryTemperatureCelsius: number | null;
  encoderUtilPercent: number | null;
  decoderUtilPercent: number | null;
  /** Current PCIe link generation and lanes (read at most once a second). */
  pcieLinkGeneration: number | null;
  pcieLinkWidth: number | null;
  /** null as a whole when ECC is off or unsupported (read at most once a second). */
  eccErrors: GpuEccErrors | null;
  /** This process's GPU memory: 0 when not in the list, null when the list is unsupported. */
  processGpuMemoryMb: number | null;
  /** Compute and graphics processes, ascending pid ([] when neither list is supported). */
  processes: GpuProcess[];
  /** null on GPUs without MIG. */
  mig: GpuMig | null;
  status: GpuStatus;
}

/** Where a field's value comes from when a GPU block is decoded (src/probes/decode.ts). */
export type GpuSource =
  /** data[offset + GpuSlot[slot]] / per (the native unit per unit of the field); NaN (unsupported) becomes null. */
  | { readonly slot: GpuSlotName; readonly per: number }
  /** a / b x 100 when both are known and b > 0, else null (keys of earlier rows). */
  | { readonly percentOf: readonly [GpuFieldKey, GpuFieldKey] }
  /** The names of the bitmask field `reasonsOf` (CLOCKS_EVENT_REASONS, unknown bits `bit_<n>`), null when unknown. */
  | { readonly reasonsOf: GpuFieldKey }
  /** An object of earlier fields (`group`: property -> field key), or null unless field `when` reads 1 (ECC enabled). */
  | { readonly group: Readonly<Record<string, GpuFieldKey>>; readonly when: GpuFieldKey }
  /** Given by the probe: the sample's time, the device index, the static facts, the process table, MIG, the status slot. */
  | { readonly context: 'timestamp' | 'gpuId' | 'name' | 'uuid' | 'processes' | 'mig' | 'status' };

/** Fields decoded from the block but kept out of GpuReading (`reading: false`). */
export type GpuRowOnlyKey =
  | 'treeGpuMemoryMb'
  | 'clocksEventReasonsMask'
  | 'eccMode'
  | 'eccCorrectedVolatile'
  | 'eccUncorrectedVolatile'
  | 'eccCorrectedAggregate'
  | 'eccUncorrectedAggregate';

/** GpuReading's keys, and fields decoded but kept out of the reading (`reading: false`). */
export type GpuFieldKey = keyof GpuReading | GpuRowOnlyKey;

export interface GpuFieldSpec<K extends GpuFieldKey = GpuFieldKey> extends FieldSpec<K> {
  readonly source: GpuSource;
  /** Part of GpuReading. */
  readonly reading: boolean;
}

function gpu<K extends GpuFieldKey>(
  key: K,
  snake: string,
  kind: FieldKind,
  nullable: boolean,
  unit: string,
  source: GpuSource,
  doc: string,
  reading = true,
): GpuFieldSpec<K> {
  return Object.freeze({ ...field(key, snake, kind, nullable, unit, doc), source, reading });
}

/** Every GPU field, in GpuReading order. */
export const GPU_FIELDS = Object.freeze([
  gpu('timestamp', 'timestamp', 'timestamp', false, 'epoch ms', { context: 'timestamp' }, 'when the sample was taken'),
  gpu('gpuId', 'gpu_id', 'id', false, '', { context: 'gpuId' }, 'device index as NVML and nvidia-smi number it'),
  gpu('name', 'name', 'string', true, '', { context: 'name' }, 'device name, read once at open'),
  gpu('uuid', 'uuid', 'string', true, '', { context: 'uuid' }, 'device UUID, read once at open'),
  gpu('loadPercent', 'load_percent', 'number', true, '%', { slot: 'loadPercent', per: 1 }, 'utilization.gpu'),
  gpu('memoryUtilPercent', 'memory_util_percent', 'number', true, '%', { slot: 'memoryUtilPercent', per: 1 }, 'utilization.memory'),
  gpu('memoryTotalMb', 'memory_total_mb', 'number', true, 'MiB', { slot: 'memoryTotalBytes', per: BYTES_PER_MB }, 'memory in total'),
  gpu('memoryUsedMb', 'memory_used_mb', 'number', true, 'MiB', { slot: 'memoryUsedBytes', per: BYTES_PER_MB }, 'memory in use (v2: driver-reserved excluded, as nvidia-smi)'),
  gpu('memoryReservedMb', 'memory_reserved_mb', 'number', true, 'MiB', { slot: 'memoryReservedBytes', per: BYTES_PER_MB }, 'driver-reserved memory (v2 only)'),
  gpu('memoryFreeMb', 'memory_free_mb', 'number', true, 'MiB', { slot: 'memoryFreeBytes', per: BYTES_PER_MB }, 'free memory'),
  gpu('memoryPercent', 'memory_percent', 'number', true, '%', { percentOf: ['memoryUsedMb', 'memoryTotalMb'] }, 'memoryUsedMb / memoryTotalMb x 100'),
  gpu('temperatureCelsius', 'temperature_celsius', 'number', true, 'C', { slot: 'temperatureC', per: 1 }, 'GPU core temperature'),
  gpu('powerWatts', 'power_watts', 'number', true, 'W', { slot: 'powerMilliwatts', per: 1000 }, 'power draw'),
  gpu('powerLimitWatts', 'power_limit_watts', 'number', true, 'W', { slot: 'powerLimitMilliwatts', per: 1000 }, 'enforced power limit'),
  gpu('smClockMhz', 'sm_clock_mhz', 'number', true, 'MHz', { slot: 'smClockMhz', per: 1 }, 'SM clock'),
  gpu('memoryClockMhz', 'memory_clock_mhz', 'number', true, 'MHz', { slot: 'memoryClockMhz', per: 1 }, 'memory clock'),
  gpu('fanPercent', 'fan_percent', 'number', true, '%', { slot: 'fanPercent', per: 1 }, 'fan speed'),
  gpu('performanceState', 'performance_state', 'number', true, 'P-state', { slot: 'performanceState', per: 1 }, 'performance state: 0 (P0, fastest) to 15'),
  gpu('clocksEventReasonsMask', 'clocks_event_reasons_mask', 'number', true, 'bitmask', { slot: 'clocksEventReasons', per: 1 }, 'nvmlClocksEventReason bitmask', false),
  gpu('clocksEventReasons', 'clocks_event_reasons', 'object', true, '', { reasonsOf: 'clocksEventReasonsMask' }, 'why the clocks are held down now (CLOCKS_EVENT_REASONS names)'),
  gpu('memoryTemperatureCelsius', 'memory_temperature_celsius', 'number', true, 'C', { slot: 'memoryTemperatureC', per: 1 }, 'memory (HBM) temperature'),
  gpu('encoderUtilPercent', 'encoder_util_percent', 'number', true, '%', { slot: 'encoderUtilPercent', per: 1 }, 'video encoder utilization'),
  gpu('decoderUtilPercent', 'decoder_util_percent', 'number', true, '%', { slot: 'decoderUtilPercent', per: 1 }, 'video decoder utilization'),
  gpu('pcieLinkGeneration', 'pcie_link_generation', 'number', true, '', { slot: 'pcieLinkGeneration', per: 1 }, 'current PCIe link generation (read at most once a second)'),
  gpu('pcieLinkWidth', 'pcie_link_width', 'number', true, 'lanes', { slot: 'pcieLinkWidth', per: 1 }, 'current PCIe link width (read at most once a second)'),
  gpu('eccMode', 'ecc_mode', 'number', true, '', { slot: 'eccModeCurrent', per: 1 }, 'ECC mode now: 1 enabled, 0 disabled', false),
  gpu('eccCorrectedVolatile', 'ecc_corrected_volatile', 'number', true, 'errors', { slot: 'eccCorrectedVolatile', per: 1 }, 'single-bit ECC errors since the driver loaded', false),
  gpu('eccUncorrectedVolatile', 'ecc_uncorrected_volatile', 'number', true, 'errors', { slot: 'eccUncorrectedVolatile', per: 1 }, 'double-bit ECC errors since the driver loaded', false),
  gpu('eccCorrectedAggregate', 'ecc_corrected_aggregate', 'number', true, 'errors', { slot: 'eccCorrectedAggregate', per: 1 }, 'single-bit ECC errors over the lifetime', false),
  gpu('eccUncorrectedAggregate', 'ecc_uncorrected_aggregate', 'number', true, 'errors', { slot: 'eccUncorrectedAggregate', per: 1 }, 'double-bit ECC errors over the lifetime', false),
  gpu('eccErrors', 'ecc_errors', 'object', true, '', {
    group: { correctedVolatile: 'eccCorrectedVolatile', uncorrectedVolatile: 'eccUncorrectedVolatile', correctedAggregate: 'eccCorrectedAggregate', uncorrectedAggregate: 'eccUncorrectedAggregate' },
    when: 'eccMode',
  }, 'ECC error counts; null as a whole when ECC is off or unsupported (GPU_ECC_COUNTERS)'),
  gpu('processGpuMemoryMb', 'process_gpu_memory_mb', 'number', true, 'MiB', { slot: 'processMemoryBytes', per: BYTES_PER_MB }, "this process's GPU memory: 0 when not listed, null when the list is unsupported"),
  gpu('processes', 'processes', 'object', false, '', { context: 'processes' }, 'the compute and graphics processes on the device (GPU_PROCESS_FIELDS)'),
  gpu('mig', 'mig', 'object', true, '', { context: 'mig' }, 'MIG mode and devices; null on GPUs without MIG'),
  gpu('status', 'status', 'string', false, '', { context: 'status' }, "'ok', 'lost' (NVML_ERROR_GPU_IS_LOST) or 'error' (some call failed: the fields that read are kept)"),
  gpu('treeGpuMemoryMb', 'tree_gpu_memory_mb', 'number', true, 'MiB', { slot: 'watchedMemoryBytes', per: BYTES_PER_MB }, "GPU memory of the sampler's watched process tree (perfprobe run)", false),
] as const);

/**
 * The nvmlClocksEventReason bits (nvml.h 13; the older ...ClocksThrottleReason
 * names mean the same bits) and the names GpuReading.clocksEventReasons uses.
 * A set bit not listed reads `bit_<n>`.
 */
export const CLOCKS_EVENT_REASONS = Object.freeze([
  { bit: 0, name: 'gpu_idle', doc: 'nothing runs: the clocks are lowered to save power' },
  { bit: 1, name: 'applications_clocks_setting', doc: 'held at the application clocks (nvidia-smi -ac)' },
  { bit: 2, name: 'sw_power_cap', doc: 'software power cap: the board is at its power limit' },
  { bit: 3, name: 'hw_slowdown', doc: 'hardware slowdown (temperature, power brake or supply)' },
  { bit: 4, name: 'sync_boost', doc: 'held to the clocks of the GPUs in its sync-boost group' },
  { bit: 5, name: 'sw_thermal_slowdown', doc: 'software thermal slowdown: GPU or memory above its target temperature' },
  { bit: 6, name: 'hw_thermal_slowdown', doc: 'hardware thermal slowdown: the GPU is too hot' },
  { bit: 7, name: 'hw_power_brake_slowdown', doc: 'external power brake (the system asked the GPU to slow down)' },
  { bit: 8, name: 'display_clock_setting', doc: 'held by the display clock setting' },
] as const);

/** The four ECC counters: their GpuEccErrors key, the row field they decode from, and their labels. */
export const GPU_ECC_COUNTERS = Object.freeze([
  { key: 'correctedVolatile', field: 'eccCorrectedVolatile', error: 'corrected', counter: 'volatile', dcgm: 'DCGM_FI_DEV_ECC_SBE_VOL_TOTAL' },
  { key: 'uncorrectedVolatile', field: 'eccUncorrectedVolatile', error: 'uncorrected', counter: 'volatile', dcgm: 'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL' },
  { key: 'correctedAggregate', field: 'eccCorrectedAggregate', error: 'corrected', counter: 'aggregate', dcgm: 'DCGM_FI_DEV_ECC_SBE_AGG_TOTAL' },
  { key: 'uncorrectedAggregate', field: 'eccUncorrectedAggregate', error: 'uncorrected', counter: 'aggregate', dcgm: 'DCGM_FI_DEV_ECC_DBE_AGG_TOTAL' },
] as const satisfies ReadonlyArray<{ key: keyof GpuEccErrors; field: GpuRowOnlyKey; error: string; counter: string; dcgm: string }>);

type Missing = Exclude<keyof GpuReading, (typeof GPU_FIELDS)[number]['key']>;
// A GpuReading key without a row (or a row for a key GpuReading lacks) fails to compile here.
const everyReadingKeyHasARow: [Missing] extends [never] ? true : Missing = true;
void everyReadingKeyHasARow;

/** The row of a GPU field. */
export function gpuField(key: GpuFieldKey): GpuFieldSpec {
  const f = (GPU_FIELDS as readonly GpuFieldSpec[]).find((r) => r.key === key);
  if (!f) throw new Error(`no GPU field ${key}`);
  return f;
}

/**
 * The fields of GpuUsageMetric between timestamp and operation: the GPU
 * history's store columns, in export order. Appended at the end only: a
 * JSON or CSV export written before a column existed imports with it null.
 */
export const GPU_RECORD_KEYS = Object.freeze([
  'gpuId',
  'loadPercent',
  'memoryUsedMb',
  'memoryTotalMb',
  'memoryPercent',
  'temperatureCelsius',
  'powerWatts',
  'performanceState',
  'memoryTemperatureCelsius',
  'encoderUtilPercent',
  'decoderUtilPercent',
] as const);
export type GpuRecordKey = (typeof GPU_RECORD_KEYS)[number];

/** A stored GPU record: one GPU at one time. Figures the probe could not read are null. */
export interface GpuUsageMetric extends Pick<GpuReading, 'timestamp' | GpuRecordKey> {
  /** Label given to recordGpuUsage(operation); null for sampled records. */
  operation: string | null;
}

/** The GPU record keys appended after the first release: a record given to importRecords may lack them (they read null). */
export const GPU_RECORD_KEYS_ADDED = Object.freeze(['performanceState', 'memoryTemperatureCelsius', 'encoderUtilPercent', 'decoderUtilPercent'] as const satisfies readonly GpuRecordKey[]);
/** A GPU record as importRecords takes it: the keys GPU_RECORD_KEYS_ADDED names may be absent. */
export type GpuUsageMetricInput = Omit<GpuUsageMetric, (typeof GPU_RECORD_KEYS_ADDED)[number]> &
  Partial<Pick<GpuUsageMetric, (typeof GPU_RECORD_KEYS_ADDED)[number]>>;

export const GPU_SCHEMA = sampleSchema<GpuUsageMetric>()('gpu', 'gpu_metrics', [
  gpuField('timestamp') as FieldSpec<'timestamp'>,
  ...GPU_RECORD_KEYS.map((k) => gpuField(k) as FieldSpec<GpuRecordKey>),
  field('operation', 'operation', 'operation', true, '', 'label given to recordGpuUsage(operation)'),
]);

/** Store column index of each GPU record figure. */
export const GpuField = GPU_SCHEMA.column;

/** How a gauge's value is made from its field: 'bytes': round(MiB x 1048576); 'hertz': MHz x 1e6; 'same': as it is. */
export type GaugeConvert = 'same' | 'bytes' | 'hertz';
/** What one unit of a converted gauge is in its field's unit (a dcgm-exporter value is the field's value: MiB, MHz). */
export const GAUGE_SCALE: Readonly<Record<GaugeConvert, number>> = Object.freeze({ same: 1, bytes: BYTES_PER_MB, hertz: 1e6 });

/**
 * A Prometheus gauge of one GPU figure, labelled gpu, uuid and name; its
 * dcgm-exporter name (`serve({ gpuMetricNames: 'dcgm' })`), whose value is
 * the field in the field's unit (MiB, MHz, W, C, %: as dcgm-exporter
 * exposes it), or null when dcgm-exporter has no such field.
 */
export interface GpuGaugeSpec {
  /** The GPU field it reads (from a live reading, or from the newest record when the record has it). */
  readonly field: GpuFieldKey;
  /** Key in MetricsSnapshot.gpus[i] (GpuGauges). */
  readonly gauge: string;
  readonly convert: GaugeConvert;
  readonly prometheus: { readonly name: string; readonly help: string; readonly unit: string };
  readonly dcgm: { readonly name: string; readonly help: string } | null;
}

/**
 * The GPU gauges, in exposition order. dcgm names and help texts: NVIDIA
 * dcgm-exporter's etc/default-counters.csv and etc/dcp-metrics-included.csv
 * where they list the field, else DCGM's field identifiers
 * (test/exporters/fixtures/dcgm-fields.csv holds the list the tests check).
 */
export const GPU_GAUGES = Object.freeze([
  { field: 'loadPercent', gauge: 'utilizationPercent', convert: 'same', prometheus: { name: 'perfprobe_gpu_utilization_percent', help: 'GPU utilization in percent (0-100).', unit: 'percent' }, dcgm: { name: 'DCGM_FI_DEV_GPU_UTIL', help: 'GPU utilization (in %).' } },
  { field: 'memoryUtilPercent', gauge: 'memoryUtilizationPercent', convert: 'same', prometheus: { name: 'perfprobe_gpu_memory_utilization_percent', help: 'Percent of time the GPU memory was read or written (0-100).', unit: 'percent' }, dcgm: { name: 'DCGM_FI_DEV_MEM_COPY_UTIL', help: 'Memory utilization (in %).' } },
  { field: 'memoryUsedMb', gauge: 'memoryUsedBytes', convert: 'bytes', prometheus: { name: 'perfprobe_gpu_memory_used_bytes', help: 'GPU memory in use in bytes.', unit: 'bytes' }, dcgm: { name: 'DCGM_FI_DEV_FB_USED', help: 'Framebuffer memory used (in MiB).' } },
  { field: 'memoryTotalMb', gauge: 'memoryTotalBytes', convert: 'bytes', prometheus: { name: 'perfprobe_gpu_memory_total_bytes', help: 'GPU memory in total in bytes.', unit: 'bytes' }, dcgm: { name: 'DCGM_FI_DEV_FB_TOTAL', help: 'Framebuffer memory total (in MiB).' } },
  { field: 'memoryFreeMb', gauge: 'memoryFreeBytes', convert: 'bytes', prometheus: { name: 'perfprobe_gpu_memory_free_bytes', help: 'GPU memory free in bytes.', unit: 'bytes' }, dcgm: { name: 'DCGM_FI_DEV_FB_FREE', help: 'Framebuffer memory free (in MiB).' } },
  { field: 'memoryReservedMb', gauge: 'memoryReservedBytes', convert: 'bytes', prometheus: { name: 'perfprobe_gpu_memory_reserved_bytes', help: 'GPU memory reserved by the driver in bytes.', unit: 'bytes' }, dcgm: { name: 'DCGM_FI_DEV_FB_RESERVED', help: 'Framebuffer memory reserved (in MiB).' } },
  { field: 'temperatureCelsius', gauge: 'temperatureCelsius', convert: 'same', prometheus: { name: 'perfprobe_gpu_temperature_celsius', help: 'GPU temperature in degrees Celsius.', unit: 'celsius' }, dcgm: { name: 'DCGM_FI_DEV_GPU_TEMP', help: 'GPU temperature (in C).' } },
  { field: 'memoryTemperatureCelsius', gauge: 'memoryTemperatureCelsius', convert: 'same', prometheus: { name: 'perfprobe_gpu_memory_temperature_celsius', help: 'GPU memory (HBM) temperature in degrees Celsius.', unit: 'celsius' }, dcgm: { name: 'DCGM_FI_DEV_MEMORY_TEMP', help: 'Memory temperature (in C).' } },
  { field: 'powerWatts', gauge: 'powerWatts', convert: 'same', prometheus: { name: 'perfprobe_gpu_power_watts', help: 'GPU power draw in watts.', unit: 'watts' }, dcgm: { name: 'DCGM_FI_DEV_POWER_USAGE', help: 'Power draw (in W).' } },
  { field: 'powerLimitWatts', gauge: 'powerLimitWatts', convert: 'same', prometheus: { name: 'perfprobe_gpu_power_limit_watts', help: 'GPU enforced power limit in watts.', unit: 'watts' }, dcgm: { name: 'DCGM_FI_DEV_ENFORCED_POWER_LIMIT', help: 'Effective power limit that the driver enforces (in W).' } },
  { field: 'smClockMhz', gauge: 'smClockHertz', convert: 'hertz', prometheus: { name: 'perfprobe_gpu_sm_clock_hertz', help: 'GPU SM clock in hertz.', unit: 'hertz' }, dcgm: { name: 'DCGM_FI_DEV_SM_CLOCK', help: 'SM clock frequency (in MHz).' } },
  { field: 'memoryClockMhz', gauge: 'memoryClockHertz', convert: 'hertz', prometheus: { name: 'perfprobe_gpu_memory_clock_hertz', help: 'GPU memory clock in hertz.', unit: 'hertz' }, dcgm: { name: 'DCGM_FI_DEV_MEM_CLOCK', help: 'Memory clock frequency (in MHz).' } },
  { field: 'fanPercent', gauge: 'fanPercent', convert: 'same', prometheus: { name: 'perfprobe_gpu_fan_speed_percent', help: 'GPU fan speed in percent of its maximum.', unit: 'percent' }, dcgm: { name: 'DCGM_FI_DEV_FAN_SPEED', help: 'Fan speed for the device in percent 0-100.' } },
  { field: 'performanceState', gauge: 'performanceState', convert: 'same', prometheus: { name: 'perfprobe_gpu_performance_state', help: 'GPU performance state: 0 (P0, fastest) to 15 (P15).', unit: '' }, dcgm: { name: 'DCGM_FI_DEV_PSTATE', help: 'Performance state (P-State) 0-15. 0=highest.' } },
  { field: 'encoderUtilPercent', gauge: 'encoderUtilizationPercent', convert: 'same', prometheus: { name: 'perfprobe_gpu_encoder_utilization_percent', help: 'GPU video encoder utilization in percent (0-100).', unit: 'percent' }, dcgm: { name: 'DCGM_FI_DEV_ENC_UTIL', help: 'Encoder utilization (in %).' } },
  { field: 'decoderUtilPercent', gauge: 'decoderUtilizationPercent', convert: 'same', prometheus: { name: 'perfprobe_gpu_decoder_utilization_percent', help: 'GPU video decoder utilization in percent (0-100).', unit: 'percent' }, dcgm: { name: 'DCGM_FI_DEV_DEC_UTIL', help: 'Decoder utilization (in %).' } },
  { field: 'pcieLinkGeneration', gauge: 'pcieLinkGeneration', convert: 'same', prometheus: { name: 'perfprobe_gpu_pcie_link_generation', help: 'Current PCIe link generation of the GPU.', unit: '' }, dcgm: { name: 'DCGM_FI_DEV_PCIE_LINK_GEN', help: 'PCIe current link generation.' } },
  { field: 'pcieLinkWidth', gauge: 'pcieLinkWidth', convert: 'same', prometheus: { name: 'perfprobe_gpu_pcie_link_width', help: 'Current PCIe link width of the GPU in lanes.', unit: '' }, dcgm: { name: 'DCGM_FI_DEV_PCIE_LINK_WIDTH', help: 'PCIe current link width.' } },
] as const satisfies readonly GpuGaugeSpec[]);

/** One GPU's gauges; null = unknown or unsupported (the sample is left out). */
export type GpuGauges = { gpu: number; uuid: string; name: string } & {
  [K in (typeof GPU_GAUGES)[number]['gauge']]: number | null;
} & {
  /** The reasons the clocks are held down (CLOCKS_EVENT_REASONS names); null when unknown. */
  clocksEventReasons: readonly string[] | null;
  eccErrors: GpuEccErrors | null;
  mig: GpuMig | null;
};

/** A key of GpuGauges holding a number. */
export type GpuGaugeKey = (typeof GPU_GAUGES)[number]['gauge'];

/**
 * The OpenTelemetry instruments of the GPU gauges, after the hardware
 * semantic conventions (opentelemetry.io/docs/specs/semconv/hardware/gpu:
 * hw.gpu.utilization with hw.gpu.task, hw.gpu.memory.usage / .limit /
 * .utilization) and, where those are silent, the names the OpenLIT GPU
 * collector uses (hw.gpu.temperature with sensor, hw.gpu.power.draw /
 * .limit, hw.gpu.clock.graphics / .memory in MHz, hw.gpu.memory.free).
 * Every point also carries hw.id (the UUID), hw.name, hw.vendor, hw.type
 * and gpu.index. The value is the gauge times `scale`, or over the `per`
 * gauge (a ratio). Several rows may share an instrument (different attributes).
 */
export interface GpuOtelSpec {
  readonly name: string;
  readonly kind: 'gauge' | 'updowncounter';
  readonly unit: string;
  readonly description: string;
  readonly gauge: GpuGaugeKey;
  readonly scale: number;
  readonly per?: GpuGaugeKey;
  readonly attributes: Readonly<Record<string, string>>;
}

export const GPU_OTEL_INSTRUMENTS = Object.freeze([
  { name: 'hw.gpu.utilization', kind: 'gauge', unit: '1', description: 'Fraction of time the GPU (or its encoder, decoder) was busy.', gauge: 'utilizationPercent', scale: 0.01, attributes: { 'hw.gpu.task': 'general' } },
  { name: 'hw.gpu.utilization', kind: 'gauge', unit: '1', description: 'Fraction of time the GPU (or its encoder, decoder) was busy.', gauge: 'encoderUtilizationPercent', scale: 0.01, attributes: { 'hw.gpu.task': 'encoder' } },
  { name: 'hw.gpu.utilization', kind: 'gauge', unit: '1', description: 'Fraction of time the GPU (or its encoder, decoder) was busy.', gauge: 'decoderUtilizationPercent', scale: 0.01, attributes: { 'hw.gpu.task': 'decoder' } },
  { name: 'hw.gpu.memory.usage', kind: 'updowncounter', unit: 'By', description: 'GPU memory used.', gauge: 'memoryUsedBytes', scale: 1, attributes: {} },
  { name: 'hw.gpu.memory.limit', kind: 'updowncounter', unit: 'By', description: 'Size of the GPU memory.', gauge: 'memoryTotalBytes', scale: 1, attributes: {} },
  { name: 'hw.gpu.memory.free', kind: 'updowncounter', unit: 'By', description: 'GPU memory free.', gauge: 'memoryFreeBytes', scale: 1, attributes: {} },
  { name: 'hw.gpu.memory.utilization', kind: 'gauge', unit: '1', description: 'Fraction of GPU memory used.', gauge: 'memoryUsedBytes', scale: 1, per: 'memoryTotalBytes', attributes: {} },
  { name: 'hw.gpu.temperature', kind: 'gauge', unit: 'Cel', description: 'GPU die or memory temperature.', gauge: 'temperatureCelsius', scale: 1, attributes: { sensor: 'die' } },
  { name: 'hw.gpu.temperature', kind: 'gauge', unit: 'Cel', description: 'GPU die or memory temperature.', gauge: 'memoryTemperatureCelsius', scale: 1, attributes: { sensor: 'memory' } },
  { name: 'hw.gpu.power.draw', kind: 'gauge', unit: 'W', description: 'GPU power draw.', gauge: 'powerWatts', scale: 1, attributes: {} },
  { name: 'hw.gpu.power.limit', kind: 'gauge', unit: 'W', description: 'GPU enforced power limit.', gauge: 'powerLimitWatts', scale: 1, attributes: {} },
  { name: 'hw.gpu.clock.graphics', kind: 'gauge', unit: 'MHz', description: 'GPU graphics (SM) clock.', gauge: 'smClockHertz', scale: 1e-6, attributes: {} },
  { name: 'hw.gpu.clock.memory', kind: 'gauge', unit: 'MHz', description: 'GPU memory clock.', gauge: 'memoryClockHertz', scale: 1e-6, attributes: {} },
  { name: 'perfprobe.gpu.performance_state', kind: 'gauge', unit: '1', description: 'GPU performance state: 0 (P0, fastest) to 15.', gauge: 'performanceState', scale: 1, attributes: {} },
] as const satisfies readonly GpuOtelSpec[]);

/** The GPU figures of a `perfprobe run` sample, in its JSON order. */
export const GPU_RUN_SAMPLE_KEYS = Object.freeze([
  'gpuId',
  'status',
  'loadPercent',
  'memoryUtilPercent',
  'memoryUsedMb',
  'memoryTotalMb',
  'temperatureCelsius',
  'powerWatts',
  'performanceState',
  'clocksEventReasons',
  'treeGpuMemoryMb',
] as const satisfies readonly GpuFieldKey[]);

/** The dashboard's GPU row after [timestamp]: values rounded to 2 decimals (assets/dashboard/app.js reads them by position). */
export const GPU_STREAM_KEYS = Object.freeze([
  'gpuId',
  'loadPercent',
  'memoryUsedMb',
  'memoryTotalMb',
  'temperatureCelsius',
  'powerWatts',
  'performanceState',
  'memoryTemperatureCelsius',
] as const satisfies readonly GpuRecordKey[]);

/**
 * GpuReading.processes entries, from the addon's process-table objects
 * (nvmlReadDetailed: `from` names the property, in NVML units): numbers
 * divided by `per`, NaN null; strings as they are.
 */
export const GPU_PROCESS_FIELDS = Object.freeze([
  { key: 'pid', from: 'pid', kind: 'number', per: 1, unit: '', doc: 'process id' },
  { key: 'usedMemoryMb', from: 'usedBytes', kind: 'number', per: BYTES_PER_MB, unit: 'MiB', doc: "the process's GPU memory (the larger figure when on both lists); null when the driver does not say" },
  { key: 'name', from: 'name', kind: 'string', per: 1, unit: '', doc: 'process name from /proc; null when the pid is not visible here' },
  { key: 'type', from: 'type', kind: 'string', per: 1, unit: '', doc: "'compute', 'graphics' or 'compute+graphics'" },
  { key: 'smUtilPercent', from: 'smUtil', kind: 'number', per: 1, unit: '%', doc: 'SM utilization of the process (nvmlDeviceGetProcessUtilization); null when not sampled' },
  { key: 'memoryUtilPercent', from: 'memUtil', kind: 'number', per: 1, unit: '%', doc: 'memory utilization of the process' },
  { key: 'encoderUtilPercent', from: 'encUtil', kind: 'number', per: 1, unit: '%', doc: 'encoder utilization of the process' },
  { key: 'decoderUtilPercent', from: 'decUtil', kind: 'number', per: 1, unit: '%', doc: 'decoder utilization of the process' },
  { key: 'gpuInstanceId', from: 'gpuInstanceId', kind: 'number', per: 1, unit: '', doc: 'MIG GPU instance; null when not attributable' },
  { key: 'computeInstanceId', from: 'computeInstanceId', kind: 'number', per: 1, unit: '', doc: 'MIG compute instance; null when not attributable' },
] as const satisfies ReadonlyArray<{ key: keyof GpuProcess; from: string; kind: 'number' | 'string'; per: number; unit: string; doc: string }>);

/** GpuMig.devices entries, from the addon's MIG objects (same rules as GPU_PROCESS_FIELDS). */
export const GPU_MIG_DEVICE_FIELDS = Object.freeze([
  { key: 'index', from: 'index', kind: 'number', per: 1, unit: '', doc: 'MIG device index under its parent' },
  { key: 'uuid', from: 'uuid', kind: 'string', per: 1, unit: '', doc: 'MIG device UUID (MIG-...)' },
  { key: 'gpuInstanceId', from: 'gpuInstanceId', kind: 'number', per: 1, unit: '', doc: 'GPU instance id' },
  { key: 'computeInstanceId', from: 'computeInstanceId', kind: 'number', per: 1, unit: '', doc: 'compute instance id' },
  { key: 'memoryTotalMb', from: 'memoryTotalBytes', kind: 'number', per: BYTES_PER_MB, unit: 'MiB', doc: "the MIG device's memory in total" },
  { key: 'memoryUsedMb', from: 'memoryUsedBytes', kind: 'number', per: BYTES_PER_MB, unit: 'MiB', doc: "the MIG device's memory in use" },
] as const satisfies ReadonlyArray<{ key: keyof GpuMigDevice; from: string; kind: 'number' | 'string'; per: number; unit: string; doc: string }>);
