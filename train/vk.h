/*
 * The Vulkan compute runtime: one device, one compute queue, pipelines from
 * the embedded SPIR-V table (train/kernels.h), memory pools by lifetime, and
 * command buffers that are recorded once and submitted many times.
 *
 * This is the only module that includes vulkan.h; everything above it (ops,
 * layers, the trainer) speaks in blocks, byte offsets and kernel ids.
 *
 * Memory.  A pool hands out byte ranges (struct vk_mem) from large blocks
 * (one VkBuffer + VkDeviceMemory each).  Pools differ by lifetime:
 * VK_POOL_PERSISTENT (parameters, gradients, optimizer state), VK_POOL_ARENA
 * (activations; vk_pool_reset() forgets every range at once, before a step is
 * re-recorded) and VK_POOL_STAGING (host-visible, mapped; uploads, downloads
 * and small host-written buffers such as optimizer hyper-parameters).  A
 * range never spans two blocks.  Blocks may be larger than the device's
 * maxStorageBufferRange; a shader binding never is: vk_bind_elems() cuts a
 * binding out of a block and refuses one over the limit, and the ops split
 * big tensors along the batch so that no binding needs to be.
 *
 * Commands.  vk_cmd_dispatch() records one dispatch followed by a full
 * compute->compute memory barrier (barriers cost nothing measurable on
 * lavapipe; on GPUs they serialise dispatches, which a training step does
 * anyway).  Descriptor sets belong to the vk_cmd and live until it is
 * re-begun, so a recorded step can be submitted again and again: one submit
 * and one fence per step.
 *
 * Profiling (DSFS_VK_PROFILE=1 or opts.profile): a timestamp after every
 * command; after each submit the per-dispatch times are added to per-label
 * totals, printed by vk_prof_print() with GFLOP/s where the op gave a flop
 * count.
 *
 * Threads: a struct vk and everything made from it is used by one thread.
 */
#ifndef DSFS_TRAIN_VK_H
#define DSFS_TRAIN_VK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "train/kernels.h"

struct vk;
struct vk_block;
struct vk_pool;
struct vk_cmd;

enum vk_tiles {
	VK_TILES_AUTO = 0, /* CPU profile on lavapipe/CPU devices, GPU profile otherwise */
	VK_TILES_CPU,      /* register-blocked, no shared memory */
	VK_TILES_GPU,      /* shared-memory tiles */
};

struct vk_opts {
	const char *device;  /* index or name substring; NULL: $DSFS_VK_DEVICE, else the best device */
	enum vk_tiles tiles; /* AUTO: $DSFS_VK_TILES=cpu|gpu, else by device */
	int profile;         /* 1 on, 0 off, -1: $DSFS_VK_PROFILE */
	uint64_t max_range;  /* 0: the device's maxStorageBufferRange; else a smaller cap (tests) */
};

#define VK_OPTS_INIT { NULL, VK_TILES_AUTO, -1, 0 }

struct vk_info {
	char name[256];
	uint32_t vendor_id, device_id;
	int is_cpu;                 /* VK_PHYSICAL_DEVICE_TYPE_CPU */
	int gpu_tiles;              /* 1: the shared-memory tile profile was chosen */
	uint64_t max_range;         /* bytes one storage-buffer binding may cover */
	uint64_t offset_align;      /* minStorageBufferOffsetAlignment */
	uint32_t max_groups[3];     /* maxComputeWorkGroupCount */
	uint32_t max_invocations;   /* maxComputeWorkGroupInvocations */
	uint32_t shared_mem;        /* maxComputeSharedMemorySize */
	uint32_t subgroup_size;
	int profiling;              /* timestamps are being recorded */
};

/*
 * Open the device chosen by `opts` (NULL: defaults).  -ENODEV when there is
 * no Vulkan device at all (tests turn that into SKIP), -ENOENT when
 * DSFS_VK_DEVICE names none, -EIO for other Vulkan failures (message set).
 */
int vk_open(struct vk **out, const struct vk_opts *opts);
void vk_free(struct vk *vk);
const struct vk_info *vk_info(const struct vk *vk);

/* VkResult -> negative errno, logging the failed call by name. */
int vk_errno(int vkresult, const char *call);

/* ---- memory ---- */

enum vk_pool_kind { VK_POOL_PERSISTENT, VK_POOL_ARENA, VK_POOL_STAGING };

/* A byte range inside a block.  blk == NULL means "no memory". */
struct vk_mem {
	struct vk_block *blk;
	uint64_t off;
	uint64_t size;
};

int vk_pool_new(struct vk_pool **out, struct vk *vk, enum vk_pool_kind kind, const char *name);
/*
 * A new range of `size` bytes (256-byte aligned) from `pool`.  The range
 * stays valid until vk_pool_reset() or vk_pool_free().  -ENOMEM (also on
 * FAULT_VK_ALLOC) with a message.
 */
int vk_alloc(struct vk_mem *out, struct vk_pool *pool, uint64_t size);
/* Forget every range (the blocks are kept for the next round). */
void vk_pool_reset(struct vk_pool *pool);
void vk_pool_free(struct vk_pool *pool);
/* Bytes handed out since the last reset. */
uint64_t vk_pool_used(const struct vk_pool *pool);

/* Host pointer to the start of `m`, or NULL if its memory is not host-visible. */
void *vk_mem_map(struct vk_mem m);

/* Synchronous copies between host memory and `m` (+ byte offset), through staging. */
int vk_upload(struct vk *vk, struct vk_mem m, uint64_t off, const void *src, size_t n);
int vk_download(struct vk *vk, void *dst, struct vk_mem m, uint64_t off, size_t n);

/* ---- commands ---- */

/* One storage-buffer binding. */
struct vk_bind {
	struct vk_block *blk;
	uint64_t off, range;
};

/*
 * Bind `count` floats starting at byte `byte_off` of `blk`: the binding
 * starts at the aligned offset at or below it and *elem_off (OUT) is the
 * index of the first element inside the binding.  -E2BIG with a message if
 * the binding would exceed the device's maxStorageBufferRange.
 */
int vk_bind_elems(struct vk_bind *out, uint32_t *elem_off, const struct vk *vk,
		  struct vk_block *blk, uint64_t byte_off, uint64_t count);

struct vk_dispatch {
	enum kern kern;
	const int32_t *spec;         /* kernels[kern].n_spec values, NULL: device defaults */
	const struct vk_bind *binds; /* kernels[kern].n_bindings */
	const void *push;
	uint32_t push_size;          /* must equal kernels[kern].push_size */
	uint32_t groups[3];
	const char *label;           /* profile row ("conv_fwd 3x3 s1"); NULL: kernel name */
	double flops, bytes;         /* for GFLOP/s and GB/s in the profile; 0 if unknown */
};

int vk_cmd_new(struct vk_cmd **out, struct vk *vk);
void vk_cmd_free(struct vk_cmd *c);
/* Start (re)recording; everything recorded before is dropped. */
int vk_cmd_begin(struct vk_cmd *c);
int vk_cmd_dispatch(struct vk_cmd *c, const struct vk_dispatch *d);
int vk_cmd_copy(struct vk_cmd *c, struct vk_mem dst, uint64_t doff, struct vk_mem src,
		uint64_t soff, uint64_t bytes);
/* Fill `bytes` (a multiple of 4) of `dst` from `off` with the 32-bit `value`. */
int vk_cmd_fill(struct vk_cmd *c, struct vk_mem dst, uint64_t off, uint64_t bytes,
		uint32_t value);
/* Fill everything handed out from `pool` since its last reset (one command per block). */
int vk_cmd_fill_pool(struct vk_cmd *c, struct vk_pool *pool, uint32_t value);
int vk_cmd_end(struct vk_cmd *c);
/* Submit the recorded buffer and wait for it (one submit, one fence). */
int vk_cmd_submit(struct vk_cmd *c);
/* Dispatches recorded since vk_cmd_begin(). */
unsigned vk_cmd_n_dispatches(const struct vk_cmd *c);
/* Sum of the timed command durations of the last submit, in ns (0 without profiling). */
double vk_cmd_last_ns(const struct vk_cmd *c);

/* Spec constants the device profile picks for `k` (kernels[k].n_spec values). */
const int32_t *vk_spec(const struct vk *vk, enum kern k);

/* ---- profiling ---- */
void vk_prof_reset(struct vk *vk);
/* Per-label totals since the last reset, slowest first. */
void vk_prof_print(const struct vk *vk, FILE *f);
/* Totals for labels starting with `prefix` (NULL: all); returns calls. */
unsigned vk_prof_sum(const struct vk *vk, const char *prefix, double *ns_out, double *flops_out,
		     double *bytes_out);

#endif
