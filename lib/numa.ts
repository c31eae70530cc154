// threadmap.numa: the machine's NUMA topology and the calling thread's CPU,
// node and CPU affinity, from inside the process (no libnuma, no numactl).
// Everything here acts on or reports the thread that calls it: in a worker,
// that worker's thread. Maps choose where their memory goes with the `numa`
// option; see the NUMA section of the README.

import { addon, type NumaOption, type NumaTopology } from './native'

export type {
  NumaNode,
  NumaOption,
  NumaPlacement,
  NumaStats,
  NumaTableStats,
  NumaTopology,
} from './native'

export interface Numa {
  /**
   * Nodes with their CPUs and memory, from /sys/devices/system/node (or the
   * fake tree $THREADMAP_SYSFS_ROOT names, read once per process). Malformed
   * content is reported in `error` and treated as one node.
   */
  topology(): NumaTopology
  /** The CPU the calling thread is running on now (getcpu); -1 when unknown. */
  currentCpu(): number
  /** The node of that CPU; -1 when unknown. */
  currentNode(): number
  /**
   * Restricts the calling thread to `cpus` (sched_setaffinity) and returns the
   * CPUs it could run on before, to restore later. TypeError for a wrong shape,
   * RangeError for a CPU that does not exist or is offline; either way the
   * affinity is unchanged. Pinning a worker pins only that worker's thread.
   */
  pinThread(cpus: number | readonly number[]): number[]
  /**
   * The `numa` option a text form names, for command-line flags and
   * environment variables: 'local', 'interleave' and 'none' as themselves,
   * 'node:3' as `{ node: 3 }`. Anything else is a TypeError naming the
   * forms. Whether the node exists is checked when a map is created.
   */
  parsePolicy(text: string): NumaOption
}

const native = addon.numa

/** NUMA topology and pinning for the calling thread. */
export const numa: Numa = Object.freeze({
  topology: (): NumaTopology => native.topology(),
  currentCpu: (): number => native.currentCpu(),
  currentNode: (): number => native.currentNode(),
  pinThread: (cpus: number | readonly number[]): number[] => native.pinThread(cpus),
  parsePolicy: (text: string): NumaOption => native.parsePolicy(text),
})
