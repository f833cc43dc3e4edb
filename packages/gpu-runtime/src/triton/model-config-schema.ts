/**
 * The part of Triton's `ModelConfig` (model_config.proto) that ONNX Runtime models use, as a
 * text-format schema: what `parseTextFormat` checks a `config.pbtxt` against. Fields Fuselab never
 * writes (ensembles, warmup, ragged batch inputs...) are left out, so a config using them is refused
 * rather than half-read.
 */
import type { MessageSchema } from './text-format.ts';

export const TRITON_DATA_TYPES = ['TYPE_INVALID', 'TYPE_BOOL', 'TYPE_UINT8', 'TYPE_UINT16', 'TYPE_UINT32', 'TYPE_UINT64', 'TYPE_INT8', 'TYPE_INT16', 'TYPE_INT32', 'TYPE_INT64', 'TYPE_FP16', 'TYPE_FP32', 'TYPE_FP64', 'TYPE_STRING', 'TYPE_BF16'] as const;
export type TritonDataType = (typeof TRITON_DATA_TYPES)[number];

export const TRITON_INSTANCE_KINDS = ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL'] as const;

const reshape: MessageSchema = { name: 'ModelTensorReshape', fields: { shape: { kind: 'int64', repeated: true } } };
const parameter: MessageSchema = { name: 'ModelParameter', fields: { string_value: { kind: 'string' } } };
const parameterEntry: MessageSchema = { name: 'ModelConfig.ParametersEntry', fields: { key: { kind: 'string' }, value: { kind: 'message', message: parameter } } };
const stringEntry: MessageSchema = { name: 'ParametersEntry', fields: { key: { kind: 'string' }, value: { kind: 'string' } } };
const accelerator: MessageSchema = { name: 'Accelerator', fields: { name: { kind: 'string' }, parameters: { kind: 'message', message: stringEntry, repeated: true } } };
const enable: MessageSchema = { name: 'PinnedMemoryBuffer', fields: { enable: { kind: 'bool' } } };

export const MODEL_CONFIG_SCHEMA: MessageSchema = {
  name: 'ModelConfig',
  fields: {
    name: { kind: 'string' },
    platform: { kind: 'string' },
    backend: { kind: 'string' },
    runtime: { kind: 'string' },
    max_batch_size: { kind: 'int32' },
    default_model_filename: { kind: 'string' },
    version_policy: {
      kind: 'message',
      message: {
        name: 'ModelVersionPolicy',
        fields: {
          latest: { kind: 'message', message: { name: 'Latest', fields: { num_versions: { kind: 'uint64' } } } },
          all: { kind: 'message', message: { name: 'All', fields: {} } },
          specific: { kind: 'message', message: { name: 'Specific', fields: { versions: { kind: 'int64', repeated: true } } } },
        },
      },
    },
    input: {
      kind: 'message',
      repeated: true,
      message: {
        name: 'ModelInput',
        fields: {
          name: { kind: 'string' },
          data_type: { kind: 'enum', values: TRITON_DATA_TYPES },
          format: { kind: 'enum', values: ['FORMAT_NONE', 'FORMAT_NHWC', 'FORMAT_NCHW'] },
          dims: { kind: 'int64', repeated: true },
          reshape: { kind: 'message', message: reshape },
          is_shape_tensor: { kind: 'bool' },
          allow_ragged_batch: { kind: 'bool' },
          optional: { kind: 'bool' },
        },
      },
    },
    output: {
      kind: 'message',
      repeated: true,
      message: {
        name: 'ModelOutput',
        fields: {
          name: { kind: 'string' },
          data_type: { kind: 'enum', values: TRITON_DATA_TYPES },
          dims: { kind: 'int64', repeated: true },
          reshape: { kind: 'message', message: reshape },
          label_filename: { kind: 'string' },
          is_shape_tensor: { kind: 'bool' },
        },
      },
    },
    dynamic_batching: {
      kind: 'message',
      message: {
        name: 'ModelDynamicBatching',
        fields: {
          preferred_batch_size: { kind: 'int32', repeated: true },
          max_queue_delay_microseconds: { kind: 'uint64' },
          preserve_ordering: { kind: 'bool' },
          priority_levels: { kind: 'uint64' },
          default_priority_level: { kind: 'uint64' },
        },
      },
    },
    sequence_batching: {
      kind: 'message',
      message: { name: 'ModelSequenceBatching', fields: { max_sequence_idle_microseconds: { kind: 'uint64' } } },
    },
    instance_group: {
      kind: 'message',
      repeated: true,
      message: {
        name: 'ModelInstanceGroup',
        fields: {
          name: { kind: 'string' },
          kind: { kind: 'enum', values: TRITON_INSTANCE_KINDS },
          count: { kind: 'int32' },
          gpus: { kind: 'int32', repeated: true },
          profile: { kind: 'string', repeated: true },
          passive: { kind: 'bool' },
          host_policy: { kind: 'string' },
        },
      },
    },
    optimization: {
      kind: 'message',
      message: {
        name: 'ModelOptimizationPolicy',
        fields: {
          graph: { kind: 'message', message: { name: 'Graph', fields: { level: { kind: 'int32' } } } },
          priority: { kind: 'enum', values: ['PRIORITY_DEFAULT', 'PRIORITY_MAX', 'PRIORITY_MIN'] },
          cuda: { kind: 'message', message: { name: 'Cuda', fields: { graphs: { kind: 'bool' }, busy_wait_events: { kind: 'bool' }, output_copy_stream: { kind: 'bool' } } } },
          execution_accelerators: {
            kind: 'message',
            message: {
              name: 'ExecutionAccelerators',
              fields: {
                gpu_execution_accelerator: { kind: 'message', message: accelerator, repeated: true },
                cpu_execution_accelerator: { kind: 'message', message: accelerator, repeated: true },
              },
            },
          },
          input_pinned_memory: { kind: 'message', message: enable },
          output_pinned_memory: { kind: 'message', message: enable },
          gather_kernel_buffer_threshold: { kind: 'uint64' },
          eager_batching: { kind: 'bool' },
        },
      },
    },
    parameters: { kind: 'message', message: parameterEntry, repeated: true },
    response_cache: { kind: 'message', message: { name: 'ModelResponseCache', fields: { enable: { kind: 'bool' } } } },
  },
};
