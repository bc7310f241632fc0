/*
 * Vulkan runtime (see vk.h for the model).  Design notes:
 *
 * - Device choice: discrete > integrated > virtual > CPU, first of equals;
 *   DSFS_VK_DEVICE=<index>|<name substring> overrides.  The choice is logged
 *   at NOTICE, because a run on the CPU rasteriser is 10-100x slower and the
 *   user should see why.
 * - Every VkResult goes through vk_errno(), which logs the call by name.
 * - Pipelines are created lazily from the kernel table, one per (kernel,
 *   specialization values); the device profile (vk_info.gpu_tiles) picks the
 *   default spec values: register blocking without shared memory on
 *   lavapipe (vendor 0x10005) and CPU devices, shared-memory tiles on GPUs.
 * - Pools bump-allocate inside blocks, first fit in block order, so
 *   re-recording the same step after vk_pool_reset() gives the same layout.
 */
#include "train/vk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <vulkan/vulkan.h>

#include "util/err.h"
#include "util/fault.h"
#include "util/log.h"

#define VENDOR_MESA 0x10005u              /* lavapipe / llvmpipe */
#define BLOCK_SIZE (32ull << 20)          /* default block; larger requests get their own */
#define STAGING_BLOCK_SIZE (4ull << 20)
#define ALLOC_ALIGN 256ull                /* >= every device's minStorageBufferOffsetAlignment */
#define SETS_PER_POOL 256u
#define QUERY_CAP 16384u

struct vk_block {
	VkBuffer buf;
	VkDeviceMemory mem;
	uint64_t size, fill;
	void *map;                 /* host mapping or NULL */
	struct vk_block *next;
};

struct vk_pool {
	struct vk *vk;
	enum vk_pool_kind kind;
	char name[32];
	struct vk_block *blocks;   /* in creation order */
	uint64_t used;
};

struct pipe {
	int32_t spec[KERN_MAX_SPEC];
	VkPipeline pipeline;
	struct pipe *next;
};

struct prof_row {
	char *label;
	unsigned calls;
	double ns, flops, bytes;
};

struct vk {
	VkInstance instance;
	VkPhysicalDevice phys;
	VkDevice dev;
	VkQueue queue;
	uint32_t qfamily;
	uint32_t mt_device, mt_host; /* memory type indices */
	int device_host_visible;     /* mt_device is HOST_VISIBLE|HOST_COHERENT */
	int prof_at_exit;            /* DSFS_VK_PROFILE=1: print the profile in vk_free() */
	struct vk_info info;
	double ts_period;            /* ns per timestamp tick */
	uint64_t ts_mask;
	VkDescriptorSetLayout dsl[KERN_MAX_BINDINGS + 1];
	VkPipelineLayout layout[KERN_MAX_BINDINGS + 1];
	VkShaderModule module[KERN_COUNT];
	struct pipe *pipes[KERN_COUNT];
	VkCommandPool cmd_pool;
	struct vk_pool *staging;     /* for vk_upload/vk_download on non-mappable memory */
	struct prof_row *prof;
	size_t n_prof, cap_prof;
};

struct cmd_label {
	char *label;
	double flops, bytes;
};

struct vk_cmd {
	struct vk *vk;
	VkCommandBuffer cb;
	VkFence fence;
	VkDescriptorPool *dpools;
	size_t n_dpools, cur_dpool;
	VkQueryPool queries;
	struct cmd_label *labels;    /* one per timed command */
	size_t n_labels, cap_labels;
	unsigned n_dispatches;
	int recording, recorded;
	double last_ns;
};

static const char *vk_result_name(VkResult r)
{
	switch (r) {
#define R(x) case x: return #x
	R(VK_SUCCESS); R(VK_NOT_READY); R(VK_TIMEOUT); R(VK_INCOMPLETE);
	R(VK_ERROR_OUT_OF_HOST_MEMORY); R(VK_ERROR_OUT_OF_DEVICE_MEMORY);
	R(VK_ERROR_INITIALIZATION_FAILED); R(VK_ERROR_DEVICE_LOST);
	R(VK_ERROR_MEMORY_MAP_FAILED); R(VK_ERROR_LAYER_NOT_PRESENT);
	R(VK_ERROR_EXTENSION_NOT_PRESENT); R(VK_ERROR_FEATURE_NOT_PRESENT);
	R(VK_ERROR_INCOMPATIBLE_DRIVER); R(VK_ERROR_TOO_MANY_OBJECTS);
	R(VK_ERROR_FORMAT_NOT_SUPPORTED); R(VK_ERROR_FRAGMENTED_POOL);
	R(VK_ERROR_OUT_OF_POOL_MEMORY); R(VK_ERROR_INVALID_SHADER_NV);
#undef R
	default:
		return "VK_ERROR_UNKNOWN";
	}
}

int vk_errno(int vkresult, const char *call)
{
	VkResult r = (VkResult)vkresult;
	int code;

	if (r == VK_SUCCESS)
		return 0;
	switch (r) {
	case VK_ERROR_OUT_OF_HOST_MEMORY:
	case VK_ERROR_OUT_OF_DEVICE_MEMORY:
	case VK_ERROR_OUT_OF_POOL_MEMORY:
	case VK_ERROR_FRAGMENTED_POOL:
		code = -ENOMEM;
		break;
	case VK_ERROR_INCOMPATIBLE_DRIVER:
	case VK_ERROR_INITIALIZATION_FAILED:
		code = -ENODEV;
		break;
	case VK_TIMEOUT:
		code = -ETIMEDOUT;
		break;
	default:
		code = -EIO;
	}
	LOG_E("vulkan: %s failed: %s (%d)", call, vk_result_name(r), (int)r);
	return err_set(code, "%s failed: %s", call, vk_result_name(r));
}

#define VKC(call) vk_errno((int)(call), #call)

/* ---------------------------------------------------------------- device */

static int device_score(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
	case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
	default: return 0;
	}
}

static int name_matches(const char *name, const char *want)
{
	size_t n = strlen(want);

	for (const char *p = name; *p; p++)
		if (!strncasecmp(p, want, n))
			return 1;
	return 0;
}

/* Pick a physical device; -ENOENT if `want` names none. */
static int pick_device(VkPhysicalDevice *out, VkPhysicalDevice *devs, uint32_t n, const char *want)
{
	int best = -1, best_score = -1;

	if (want && *want) {
		char *end;
		long idx = strtol(want, &end, 10);

		if (!*end) {
			if (idx < 0 || (uint32_t)idx >= n)
				return err_set(-ENOENT, "DSFS_VK_DEVICE=%s: only %u device(s)", want, n);
			*out = devs[idx];
			return 0;
		}
		for (uint32_t i = 0; i < n; i++) {
			VkPhysicalDeviceProperties p;

			vkGetPhysicalDeviceProperties(devs[i], &p);
			if (name_matches(p.deviceName, want)) {
				*out = devs[i];
				return 0;
			}
		}
		return err_set(-ENOENT, "DSFS_VK_DEVICE=%s matches no device", want);
	}
	for (uint32_t i = 0; i < n; i++) {
		VkPhysicalDeviceProperties p;

		vkGetPhysicalDeviceProperties(devs[i], &p);
		if (device_score(p.deviceType) > best_score) {
			best_score = device_score(p.deviceType);
			best = (int)i;
		}
	}
	*out = devs[best];
	return 0;
}

static int find_memory_types(struct vk *vk)
{
	VkPhysicalDeviceMemoryProperties mp;
	int dev = -1, host = -1, host_cached = -1;
	const VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
					 VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

	vkGetPhysicalDeviceMemoryProperties(vk->phys, &mp);
	for (uint32_t i = 0; i < mp.memoryTypeCount; i++) {
		VkMemoryPropertyFlags f = mp.memoryTypes[i].propertyFlags;

		if (dev < 0 && (f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT))
			dev = (int)i;
		if (host < 0 && (f & hv) == hv)
			host = (int)i;
		if (host_cached < 0 && (f & hv) == hv && (f & VK_MEMORY_PROPERTY_HOST_CACHED_BIT))
			host_cached = (int)i;
	}
	if (host_cached >= 0)
		host = host_cached;
	if (host < 0)
		return err_set(-ENODEV, "vulkan: no host-visible coherent memory type");
	if (dev < 0)
		dev = host;
	vk->mt_device = (uint32_t)dev;
	vk->mt_host = (uint32_t)host;
	vk->device_host_visible = (mp.memoryTypes[dev].propertyFlags & hv) == hv;
	return 0;
}

static int env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

int vk_open(struct vk **out, const struct vk_opts *opts)
{
	static const struct vk_opts defaults = VK_OPTS_INIT;
	VkPhysicalDevice *devs = NULL;
	struct vk *vk;
	uint32_t n = 0, nq = 0;
	VkQueueFamilyProperties *qf = NULL;
	const char *want, *tiles_env;
	int error = 0;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (!(vk = calloc(1, sizeof(*vk))))
		return err_set(-ENOMEM, "out of memory");

	VkApplicationInfo app = {
		.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
		.pApplicationName = "dsfs",
		.apiVersion = VK_API_VERSION_1_1,
	};
	VkInstanceCreateInfo ici = {
		.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
		.pApplicationInfo = &app,
	};
	VkResult r = vkCreateInstance(&ici, NULL, &vk->instance);

	if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED) {
		error = err_set(-ENODEV, "no Vulkan driver (%s)", vk_result_name(r));
		goto done;
	}
	if ((error = VKC(r)) < 0)
		goto done;
	if ((error = VKC(vkEnumeratePhysicalDevices(vk->instance, &n, NULL))) < 0)
		goto done;
	if (n == 0) {
		error = err_set(-ENODEV, "no Vulkan device");
		goto done;
	}
	if (!(devs = calloc(n, sizeof(*devs)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	if ((error = VKC(vkEnumeratePhysicalDevices(vk->instance, &n, devs))) < 0)
		goto done;
	want = opts->device ? opts->device : getenv("DSFS_VK_DEVICE");
	if ((error = pick_device(&vk->phys, devs, n, want)) < 0)
		goto done;

	VkPhysicalDeviceSubgroupProperties sg = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
	};
	VkPhysicalDeviceProperties2 p2 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
		.pNext = &sg,
	};
	vkGetPhysicalDeviceProperties2(vk->phys, &p2);
	const VkPhysicalDeviceLimits *lim = &p2.properties.limits;
	struct vk_info *in = &vk->info;

	snprintf(in->name, sizeof(in->name), "%s", p2.properties.deviceName);
	in->vendor_id = p2.properties.vendorID;
	in->device_id = p2.properties.deviceID;
	in->is_cpu = p2.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
	in->max_range = lim->maxStorageBufferRange;
	if (opts->max_range && opts->max_range < in->max_range)
		in->max_range = opts->max_range & ~3ull;
	in->offset_align = lim->minStorageBufferOffsetAlignment;
	if (in->offset_align < 4)
		in->offset_align = 4;
	for (int i = 0; i < 3; i++)
		in->max_groups[i] = lim->maxComputeWorkGroupCount[i];
	in->max_invocations = lim->maxComputeWorkGroupInvocations;
	in->shared_mem = lim->maxComputeSharedMemorySize;
	in->subgroup_size = sg.subgroupSize;
	vk->ts_period = lim->timestampPeriod;

	tiles_env = getenv("DSFS_VK_TILES");
	if (opts->tiles == VK_TILES_CPU || (opts->tiles == VK_TILES_AUTO && tiles_env &&
					    !strcmp(tiles_env, "cpu")))
		in->gpu_tiles = 0;
	else if (opts->tiles == VK_TILES_GPU || (opts->tiles == VK_TILES_AUTO && tiles_env &&
						 !strcmp(tiles_env, "gpu")))
		in->gpu_tiles = 1;
	else
		in->gpu_tiles = !(in->vendor_id == VENDOR_MESA || in->is_cpu);

	vkGetPhysicalDeviceQueueFamilyProperties(vk->phys, &nq, NULL);
	if (!(qf = calloc(nq ? nq : 1, sizeof(*qf)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	vkGetPhysicalDeviceQueueFamilyProperties(vk->phys, &nq, qf);
	vk->qfamily = UINT32_MAX;
	for (uint32_t i = 0; i < nq; i++)
		if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
			vk->qfamily = i;
			break;
		}
	if (vk->qfamily == UINT32_MAX) {
		error = err_set(-ENODEV, "%s has no compute queue", in->name);
		goto done;
	}
	if (qf[vk->qfamily].timestampValidBits && lim->timestampComputeAndGraphics) {
		uint32_t bits = qf[vk->qfamily].timestampValidBits;

		vk->ts_mask = bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
	}
	in->profiling = opts->profile > 0 || (opts->profile < 0 && env_flag("DSFS_VK_PROFILE"));
	vk->prof_at_exit = opts->profile < 0 && in->profiling;
	if (in->profiling && !vk->ts_mask) {
		LOG_W("vulkan: %s has no compute timestamps; profiling disabled", in->name);
		in->profiling = 0;
	}

	float prio = 1.0f;
	VkDeviceQueueCreateInfo qci = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
		.queueFamilyIndex = vk->qfamily,
		.queueCount = 1,
		.pQueuePriorities = &prio,
	};
	VkDeviceCreateInfo dci = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
		.queueCreateInfoCount = 1,
		.pQueueCreateInfos = &qci,
	};
	if ((error = VKC(vkCreateDevice(vk->phys, &dci, NULL, &vk->dev))) < 0)
		goto done;
	vkGetDeviceQueue(vk->dev, vk->qfamily, 0, &vk->queue);
	if ((error = find_memory_types(vk)) < 0)
		goto done;

	VkCommandPoolCreateInfo cpi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
		.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
		.queueFamilyIndex = vk->qfamily,
	};
	if ((error = VKC(vkCreateCommandPool(vk->dev, &cpi, NULL, &vk->cmd_pool))) < 0)
		goto done;
	if ((error = vk_pool_new(&vk->staging, vk, VK_POOL_STAGING, "staging")) < 0)
		goto done;

	LOG_AT(LOG_NOTICE, "vulkan: using %s (vendor 0x%04x, %s tiles, max binding %" PRIu64
	       " MiB, subgroup %u)", in->name, in->vendor_id,
	       in->gpu_tiles ? "shared-memory" : "register-blocked", in->max_range >> 20,
	       in->subgroup_size);
done:
	free(devs);
	free(qf);
	if (error < 0)
		vk_free(vk);
	else
		*out = vk;
	return error;
}

void vk_free(struct vk *vk)
{
	if (!vk)
		return;
	if (vk->prof_at_exit && vk->n_prof) {
		fprintf(stderr, "vulkan profile (%s):\n", vk->info.name);
		vk_prof_print(vk, stderr);
	}
	if (vk->dev) {
		vkDeviceWaitIdle(vk->dev);
		vk_pool_free(vk->staging);
		for (int k = 0; k < KERN_COUNT; k++) {
			struct pipe *p = vk->pipes[k], *next;

			for (; p; p = next) {
				next = p->next;
				vkDestroyPipeline(vk->dev, p->pipeline, NULL);
				free(p);
			}
			if (vk->module[k])
				vkDestroyShaderModule(vk->dev, vk->module[k], NULL);
		}
		for (int i = 0; i <= KERN_MAX_BINDINGS; i++) {
			if (vk->layout[i])
				vkDestroyPipelineLayout(vk->dev, vk->layout[i], NULL);
			if (vk->dsl[i])
				vkDestroyDescriptorSetLayout(vk->dev, vk->dsl[i], NULL);
		}
		if (vk->cmd_pool)
			vkDestroyCommandPool(vk->dev, vk->cmd_pool, NULL);
		vkDestroyDevice(vk->dev, NULL);
	}
	if (vk->instance)
		vkDestroyInstance(vk->instance, NULL);
	for (size_t i = 0; i < vk->n_prof; i++)
		free(vk->prof[i].label);
	free(vk->prof);
	free(vk);
}

const struct vk_info *vk_info(const struct vk *vk)
{
	return &vk->info;
}

const int32_t *vk_spec(const struct vk *vk, enum kern k)
{
	return vk->info.gpu_tiles ? kernels[k].spec_gpu : kernels[k].spec_cpu;
}

/* ---------------------------------------------------------------- memory */

int vk_pool_new(struct vk_pool **out, struct vk *vk, enum vk_pool_kind kind, const char *name)
{
	struct vk_pool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return err_set(-ENOMEM, "out of memory");
	p->vk = vk;
	p->kind = kind;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "pool");
	*out = p;
	return 0;
}

static void block_free(struct vk *vk, struct vk_block *b)
{
	if (!b)
		return;
	if (b->map)
		vkUnmapMemory(vk->dev, b->mem);
	if (b->buf)
		vkDestroyBuffer(vk->dev, b->buf, NULL);
	if (b->mem)
		vkFreeMemory(vk->dev, b->mem, NULL);
	free(b);
}

static int block_new(struct vk_block **out, struct vk_pool *pool, uint64_t size)
{
	struct vk *vk = pool->vk;
	struct vk_block *b = NULL;
	VkMemoryRequirements req;
	int host = pool->kind == VK_POOL_STAGING;
	int error;

	*out = NULL;
	if (fault_sim(FAULT_VK_ALLOC))
		return err_set(-ENOMEM, "vulkan: %s: allocating %" PRIu64 " MiB: %s", pool->name,
			       size >> 20, "VK_ERROR_OUT_OF_DEVICE_MEMORY (injected)");
	if (!(b = calloc(1, sizeof(*b))))
		return err_set(-ENOMEM, "out of memory");
	b->size = size;
	VkBufferCreateInfo bci = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
		.size = size,
		.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
			 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
		.sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	if ((error = VKC(vkCreateBuffer(vk->dev, &bci, NULL, &b->buf))) < 0)
		goto done;
	vkGetBufferMemoryRequirements(vk->dev, b->buf, &req);
	uint32_t mt = host ? vk->mt_host : vk->mt_device;

	if (!(req.memoryTypeBits & (1u << mt))) {
		error = err_set(-ENODEV, "vulkan: buffer cannot use memory type %u", mt);
		goto done;
	}
	VkMemoryAllocateInfo mai = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
		.allocationSize = req.size,
		.memoryTypeIndex = mt,
	};
	if ((error = VKC(vkAllocateMemory(vk->dev, &mai, NULL, &b->mem))) < 0) {
		error = err_set(error, "vulkan: %s: allocating %" PRIu64 " MiB: %s", pool->name,
				size >> 20, err_last());
		goto done;
	}
	if ((error = VKC(vkBindBufferMemory(vk->dev, b->buf, b->mem, 0))) < 0)
		goto done;
	if (host || vk->device_host_visible)
		if ((error = VKC(vkMapMemory(vk->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map))) < 0)
			goto done;
	*out = b;
done:
	if (error < 0)
		block_free(vk, b);
	return error;
}

int vk_alloc(struct vk_mem *out, struct vk_pool *pool, uint64_t size)
{
	struct vk_block *b, **tail = &pool->blocks;
	uint64_t want = (size + ALLOC_ALIGN - 1) & ~(ALLOC_ALIGN - 1);
	uint64_t bs = pool->kind == VK_POOL_STAGING ? STAGING_BLOCK_SIZE : BLOCK_SIZE;
	int error;

	memset(out, 0, sizeof(*out));
	if (want == 0)
		want = ALLOC_ALIGN;
	for (b = pool->blocks; b; b = b->next) {
		if (b->size - b->fill >= want)
			break;
		tail = &b->next;
	}
	if (!b) {
		if ((error = block_new(&b, pool, want > bs ? want : bs)) < 0)
			return error;
		*tail = b;
	}
	out->blk = b;
	out->off = b->fill;
	out->size = size;
	b->fill += want;
	pool->used += want;
	return 0;
}

void vk_pool_reset(struct vk_pool *pool)
{
	for (struct vk_block *b = pool->blocks; b; b = b->next)
		b->fill = 0;
	pool->used = 0;
}

void vk_pool_free(struct vk_pool *pool)
{
	struct vk_block *b, *next;

	if (!pool)
		return;
	for (b = pool->blocks; b; b = next) {
		next = b->next;
		block_free(pool->vk, b);
	}
	free(pool);
}

uint64_t vk_pool_used(const struct vk_pool *pool)
{
	return pool->used;
}

void *vk_mem_map(struct vk_mem m)
{
	if (!m.blk || !m.blk->map)
		return NULL;
	return (char *)m.blk->map + m.off;
}

/* One-shot copy between `a` and `b` through a temporary command buffer. */
static int copy_now(struct vk *vk, struct vk_mem dst, uint64_t doff, struct vk_mem src,
		    uint64_t soff, uint64_t n)
{
	struct vk_cmd *c = NULL;
	int error;

	if ((error = vk_cmd_new(&c, vk)) < 0 || (error = vk_cmd_begin(c)) < 0 ||
	    (error = vk_cmd_copy(c, dst, doff, src, soff, n)) < 0 ||
	    (error = vk_cmd_end(c)) < 0 || (error = vk_cmd_submit(c)) < 0)
		goto done;
done:
	vk_cmd_free(c);
	return error;
}

int vk_upload(struct vk *vk, struct vk_mem m, uint64_t off, const void *src, size_t n)
{
	struct vk_mem st;
	int error;

	if (off + n > m.size)
		return err_set(-EINVAL, "vk_upload: %zu bytes at %" PRIu64 " past a %" PRIu64
			       "-byte range", n, off, m.size);
	if (m.blk->map) {
		memcpy((char *)m.blk->map + m.off + off, src, n);
		return 0;
	}
	vk_pool_reset(vk->staging);
	if ((error = vk_alloc(&st, vk->staging, n)) < 0)
		return error;
	memcpy(vk_mem_map(st), src, n);
	return copy_now(vk, m, off, st, 0, n);
}

int vk_download(struct vk *vk, void *dst, struct vk_mem m, uint64_t off, size_t n)
{
	struct vk_mem st;
	int error;

	if (off + n > m.size)
		return err_set(-EINVAL, "vk_download: %zu bytes at %" PRIu64 " past a %" PRIu64
			       "-byte range", n, off, m.size);
	if (m.blk->map) {
		memcpy(dst, (char *)m.blk->map + m.off + off, n);
		return 0;
	}
	vk_pool_reset(vk->staging);
	if ((error = vk_alloc(&st, vk->staging, n)) < 0 ||
	    (error = copy_now(vk, st, 0, m, off, n)) < 0)
		return error;
	memcpy(dst, vk_mem_map(st), n);
	return 0;
}

int vk_bind_elems(struct vk_bind *out, uint32_t *elem_off, const struct vk *vk,
		  struct vk_block *blk, uint64_t byte_off, uint64_t count)
{
	uint64_t start = byte_off & ~(vk->info.offset_align - 1);
	uint64_t range = byte_off - start + count * 4;

	if (range == 0)
		range = 4;
	if (range > vk->info.max_range)
		return err_set(-E2BIG, "binding of %" PRIu64 " bytes exceeds maxStorageBufferRange (%"
			       PRIu64 ")", range, vk->info.max_range);
	if (start + range > blk->size)
		return err_set(-EINVAL, "binding past the end of its block");
	out->blk = blk;
	out->off = start;
	out->range = range;
	*elem_off = (uint32_t)((byte_off - start) / 4);
	return 0;
}

/* ---------------------------------------------------------------- pipelines */

static int get_layout(struct vk *vk, unsigned nb)
{
	VkDescriptorSetLayoutBinding b[KERN_MAX_BINDINGS];
	int error;

	if (vk->layout[nb])
		return 0;
	for (unsigned i = 0; i < nb; i++)
		b[i] = (VkDescriptorSetLayoutBinding){
			.binding = i,
			.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
			.descriptorCount = 1,
			.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
		};
	VkDescriptorSetLayoutCreateInfo dci = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
		.bindingCount = nb,
		.pBindings = b,
	};
	if ((error = VKC(vkCreateDescriptorSetLayout(vk->dev, &dci, NULL, &vk->dsl[nb]))) < 0)
		return error;
	/* Every layout reserves the 128 bytes all devices guarantee. */
	VkPushConstantRange pcr = { VK_SHADER_STAGE_COMPUTE_BIT, 0, 128 };
	VkPipelineLayoutCreateInfo pci = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
		.setLayoutCount = 1,
		.pSetLayouts = &vk->dsl[nb],
		.pushConstantRangeCount = 1,
		.pPushConstantRanges = &pcr,
	};
	return VKC(vkCreatePipelineLayout(vk->dev, &pci, NULL, &vk->layout[nb]));
}

static int get_pipeline(VkPipeline *out, struct vk *vk, enum kern k, const int32_t *spec)
{
	const struct kern_info *ki = &kernels[k];
	VkSpecializationMapEntry map[KERN_MAX_SPEC];
	struct pipe *p;
	int error;

	for (p = vk->pipes[k]; p; p = p->next)
		if (!memcmp(p->spec, spec, ki->n_spec * sizeof(int32_t))) {
			*out = p->pipeline;
			return 0;
		}
	if ((error = get_layout(vk, ki->n_bindings)) < 0)
		return error;
	if (!vk->module[k]) {
		VkShaderModuleCreateInfo smi = {
			.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
			.codeSize = ki->spv_size,
			.pCode = ki->spv,
		};
		if ((error = VKC(vkCreateShaderModule(vk->dev, &smi, NULL, &vk->module[k]))) < 0)
			return error;
	}
	if (!(p = calloc(1, sizeof(*p))))
		return err_set(-ENOMEM, "out of memory");
	memcpy(p->spec, spec, ki->n_spec * sizeof(int32_t));
	for (unsigned i = 0; i < ki->n_spec; i++)
		map[i] = (VkSpecializationMapEntry){ i, i * 4, 4 };
	VkSpecializationInfo si = {
		.mapEntryCount = ki->n_spec,
		.pMapEntries = map,
		.dataSize = ki->n_spec * 4,
		.pData = p->spec,
	};
	VkComputePipelineCreateInfo cpi = {
		.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
		.stage = {
			.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
			.stage = VK_SHADER_STAGE_COMPUTE_BIT,
			.module = vk->module[k],
			.pName = "main",
			.pSpecializationInfo = ki->n_spec ? &si : NULL,
		},
		.layout = vk->layout[ki->n_bindings],
	};
	if ((error = VKC(vkCreateComputePipelines(vk->dev, VK_NULL_HANDLE, 1, &cpi, NULL,
						  &p->pipeline))) < 0) {
		free(p);
		return err_set(error, "creating pipeline %s: %s", ki->name, err_last());
	}
	p->next = vk->pipes[k];
	vk->pipes[k] = p;
	*out = p->pipeline;
	return 0;
}

/* ---------------------------------------------------------------- commands */

int vk_cmd_new(struct vk_cmd **out, struct vk *vk)
{
	struct vk_cmd *c = calloc(1, sizeof(*c));
	int error;

	*out = NULL;
	if (!c)
		return err_set(-ENOMEM, "out of memory");
	c->vk = vk;
	VkCommandBufferAllocateInfo cai = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
		.commandPool = vk->cmd_pool,
		.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
		.commandBufferCount = 1,
	};
	VkFenceCreateInfo fci = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };

	if ((error = VKC(vkAllocateCommandBuffers(vk->dev, &cai, &c->cb))) < 0 ||
	    (error = VKC(vkCreateFence(vk->dev, &fci, NULL, &c->fence))) < 0)
		goto done;
	if (vk->info.profiling) {
		VkQueryPoolCreateInfo qci = {
			.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
			.queryType = VK_QUERY_TYPE_TIMESTAMP,
			.queryCount = QUERY_CAP,
		};
		if ((error = VKC(vkCreateQueryPool(vk->dev, &qci, NULL, &c->queries))) < 0)
			goto done;
	}
	*out = c;
done:
	if (error < 0)
		vk_cmd_free(c);
	return error;
}

static void clear_labels(struct vk_cmd *c)
{
	for (size_t i = 0; i < c->n_labels; i++)
		free(c->labels[i].label);
	c->n_labels = 0;
}

void vk_cmd_free(struct vk_cmd *c)
{
	struct vk *vk;

	if (!c)
		return;
	vk = c->vk;
	if (c->cb)
		vkFreeCommandBuffers(vk->dev, vk->cmd_pool, 1, &c->cb);
	if (c->fence)
		vkDestroyFence(vk->dev, c->fence, NULL);
	for (size_t i = 0; i < c->n_dpools; i++)
		vkDestroyDescriptorPool(vk->dev, c->dpools[i], NULL);
	free(c->dpools);
	if (c->queries)
		vkDestroyQueryPool(vk->dev, c->queries, NULL);
	clear_labels(c);
	free(c->labels);
	free(c);
}

static void timestamp(struct vk_cmd *c)
{
	/* Query i+1 closes command i; query 0 opens the buffer. */
	if (c->queries && c->n_labels + 1 < QUERY_CAP)
		vkCmdWriteTimestamp(c->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, c->queries,
				    (uint32_t)c->n_labels + 1);
}

/* Record the label of the command just recorded, then its closing timestamp. */
static int after_command(struct vk_cmd *c, const char *label, double flops, double bytes)
{
	VkMemoryBarrier mb = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
				 VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
	};
	const VkPipelineStageFlags st = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
					VK_PIPELINE_STAGE_TRANSFER_BIT;

	vkCmdPipelineBarrier(c->cb, st, st, 0, 1, &mb, 0, NULL, 0, NULL);
	if (!c->queries)
		return 0;
	if (c->n_labels == c->cap_labels) {
		size_t cap = c->cap_labels ? c->cap_labels * 2 : 64;
		struct cmd_label *l = realloc(c->labels, cap * sizeof(*l));

		if (!l)
			return err_set(-ENOMEM, "out of memory");
		c->labels = l;
		c->cap_labels = cap;
	}
	timestamp(c);
	c->labels[c->n_labels] = (struct cmd_label){ strdup(label), flops, bytes };
	if (!c->labels[c->n_labels].label)
		return err_set(-ENOMEM, "out of memory");
	c->n_labels++;
	return 0;
}

int vk_cmd_begin(struct vk_cmd *c)
{
	struct vk *vk = c->vk;
	int error;

	if ((error = VKC(vkResetCommandBuffer(c->cb, 0))) < 0)
		return error;
	for (size_t i = 0; i < c->n_dpools; i++)
		if ((error = VKC(vkResetDescriptorPool(vk->dev, c->dpools[i], 0))) < 0)
			return error;
	c->cur_dpool = 0;
	clear_labels(c);
	c->n_dispatches = 0;
	c->recorded = 0;
	VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
	if ((error = VKC(vkBeginCommandBuffer(c->cb, &bi))) < 0)
		return error;
	c->recording = 1;
	if (c->queries) {
		vkCmdResetQueryPool(c->cb, c->queries, 0, QUERY_CAP);
		vkCmdWriteTimestamp(c->cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, c->queries, 0);
	}
	return 0;
}

static int alloc_set(VkDescriptorSet *out, struct vk_cmd *c, unsigned nb)
{
	struct vk *vk = c->vk;
	VkResult r = VK_ERROR_OUT_OF_POOL_MEMORY;

	for (;;) {
		if (c->cur_dpool < c->n_dpools) {
			VkDescriptorSetAllocateInfo ai = {
				.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
				.descriptorPool = c->dpools[c->cur_dpool],
				.descriptorSetCount = 1,
				.pSetLayouts = &vk->dsl[nb],
			};
			r = vkAllocateDescriptorSets(vk->dev, &ai, out);
			if (r == VK_SUCCESS)
				return 0;
			if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
				return VKC(r);
			c->cur_dpool++;
			continue;
		}
		/* All pools full: add one. */
		VkDescriptorPoolSize ps = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
					    SETS_PER_POOL * KERN_MAX_BINDINGS };
		VkDescriptorPoolCreateInfo pci = {
			.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
			.maxSets = SETS_PER_POOL,
			.poolSizeCount = 1,
			.pPoolSizes = &ps,
		};
		VkDescriptorPool *np = realloc(c->dpools, (c->n_dpools + 1) * sizeof(*np));
		int error;

		if (!np)
			return err_set(-ENOMEM, "out of memory");
		c->dpools = np;
		if ((error = VKC(vkCreateDescriptorPool(vk->dev, &pci, NULL,
							&c->dpools[c->n_dpools]))) < 0)
			return error;
		c->cur_dpool = c->n_dpools++;
	}
}

int vk_cmd_dispatch(struct vk_cmd *c, const struct vk_dispatch *d)
{
	struct vk *vk = c->vk;
	const struct kern_info *ki = &kernels[d->kern];
	VkDescriptorBufferInfo bi[KERN_MAX_BINDINGS];
	VkWriteDescriptorSet w[KERN_MAX_BINDINGS];
	VkDescriptorSet set;
	VkPipeline pipeline = VK_NULL_HANDLE;
	int error;

	if (!c->recording)
		return err_set(-EINVAL, "vk_cmd_dispatch outside vk_cmd_begin/end");
	if (d->push_size != ki->push_size)
		return err_set(-EINVAL, "%s: push block is %u bytes, table says %u", ki->name,
			       d->push_size, ki->push_size);
	for (int i = 0; i < 3; i++)
		if (d->groups[i] == 0 || d->groups[i] > vk->info.max_groups[i])
			return err_set(-E2BIG, "%s: %u workgroups in dimension %d (limit %u)",
				       ki->name, d->groups[i], i, vk->info.max_groups[i]);
	if ((error = get_pipeline(&pipeline, vk, d->kern, d->spec ? d->spec : vk_spec(vk, d->kern))) < 0 ||
	    (error = alloc_set(&set, c, ki->n_bindings)) < 0)
		return error;
	for (unsigned i = 0; i < ki->n_bindings; i++) {
		if (d->binds[i].range > vk->info.max_range)
			return err_set(-E2BIG, "%s: binding %u is over maxStorageBufferRange", ki->name, i);
		bi[i] = (VkDescriptorBufferInfo){ d->binds[i].blk->buf, d->binds[i].off,
						  d->binds[i].range };
		w[i] = (VkWriteDescriptorSet){
			.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
			.dstSet = set,
			.dstBinding = i,
			.descriptorCount = 1,
			.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
			.pBufferInfo = &bi[i],
		};
	}
	vkUpdateDescriptorSets(vk->dev, ki->n_bindings, w, 0, NULL);
	vkCmdBindPipeline(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
	vkCmdBindDescriptorSets(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, vk->layout[ki->n_bindings],
				0, 1, &set, 0, NULL);
	if (d->push_size)
		vkCmdPushConstants(c->cb, vk->layout[ki->n_bindings], VK_SHADER_STAGE_COMPUTE_BIT, 0,
				   d->push_size, d->push);
	vkCmdDispatch(c->cb, d->groups[0], d->groups[1], d->groups[2]);
	c->n_dispatches++;
	return after_command(c, d->label ? d->label : ki->name, d->flops, d->bytes);
}

int vk_cmd_copy(struct vk_cmd *c, struct vk_mem dst, uint64_t doff, struct vk_mem src,
		uint64_t soff, uint64_t bytes)
{
	VkBufferCopy r = { src.off + soff, dst.off + doff, bytes };

	if (doff + bytes > dst.size || soff + bytes > src.size)
		return err_set(-EINVAL, "vk_cmd_copy: range past the end of its allocation");
	if (bytes == 0)
		return 0;
	vkCmdCopyBuffer(c->cb, src.blk->buf, dst.blk->buf, 1, &r);
	return after_command(c, "copy", 0, 2.0 * (double)bytes);
}

int vk_cmd_fill(struct vk_cmd *c, struct vk_mem dst, uint64_t off, uint64_t bytes, uint32_t value)
{
	if (off + bytes > dst.size || (bytes & 3) || ((dst.off + off) & 3))
		return err_set(-EINVAL, "vk_cmd_fill: bad range");
	if (bytes == 0)
		return 0;
	vkCmdFillBuffer(c->cb, dst.blk->buf, dst.off + off, bytes, value);
	return after_command(c, "fill", 0, (double)bytes);
}

int vk_cmd_fill_pool(struct vk_cmd *c, struct vk_pool *pool, uint32_t value)
{
	int error;

	for (struct vk_block *b = pool->blocks; b; b = b->next) {
		if (!b->fill)
			continue;
		vkCmdFillBuffer(c->cb, b->buf, 0, b->fill, value);
		if ((error = after_command(c, "fill", 0, (double)b->fill)) < 0)
			return error;
	}
	return 0;
}

int vk_cmd_end(struct vk_cmd *c)
{
	VkMemoryBarrier mb = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_HOST_READ_BIT,
	};
	int error;

	if (!c->recording)
		return err_set(-EINVAL, "vk_cmd_end without vk_cmd_begin");
	vkCmdPipelineBarrier(c->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
			     VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb,
			     0, NULL, 0, NULL);
	c->recording = 0;
	if ((error = VKC(vkEndCommandBuffer(c->cb))) < 0)
		return error;
	c->recorded = 1;
	return 0;
}

static struct prof_row *prof_row(struct vk *vk, const char *label)
{
	for (size_t i = 0; i < vk->n_prof; i++)
		if (!strcmp(vk->prof[i].label, label))
			return &vk->prof[i];
	if (vk->n_prof == vk->cap_prof) {
		size_t cap = vk->cap_prof ? vk->cap_prof * 2 : 32;
		struct prof_row *p = realloc(vk->prof, cap * sizeof(*p));

		if (!p)
			return NULL;
		vk->prof = p;
		vk->cap_prof = cap;
	}
	vk->prof[vk->n_prof] = (struct prof_row){ strdup(label), 0, 0, 0, 0 };
	if (!vk->prof[vk->n_prof].label)
		return NULL;
	return &vk->prof[vk->n_prof++];
}

static int collect_times(struct vk_cmd *c)
{
	struct vk *vk = c->vk;
	size_t n = c->n_labels + 1 < QUERY_CAP ? c->n_labels + 1 : QUERY_CAP;
	uint64_t *ts = calloc(n, sizeof(*ts));
	int error;

	c->last_ns = 0;
	if (!ts)
		return err_set(-ENOMEM, "out of memory");
	if ((error = VKC(vkGetQueryPoolResults(vk->dev, c->queries, 0, (uint32_t)n,
					      n * sizeof(*ts), ts, sizeof(*ts),
					      VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT))) < 0)
		goto done;
	for (size_t i = 1; i < n; i++) {
		double ns = (double)((ts[i] - ts[i - 1]) & vk->ts_mask) * vk->ts_period;
		struct prof_row *row = prof_row(vk, c->labels[i - 1].label);

		if (!row) {
			error = err_set(-ENOMEM, "out of memory");
			goto done;
		}
		row->calls++;
		row->ns += ns;
		row->flops += c->labels[i - 1].flops;
		row->bytes += c->labels[i - 1].bytes;
		c->last_ns += ns;
	}
done:
	free(ts);
	return error;
}

int vk_cmd_submit(struct vk_cmd *c)
{
	struct vk *vk = c->vk;
	VkSubmitInfo si = {
		.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
		.commandBufferCount = 1,
		.pCommandBuffers = &c->cb,
	};
	int error;

	if (!c->recorded)
		return err_set(-EINVAL, "vk_cmd_submit: nothing recorded");
	if ((error = VKC(vkResetFences(vk->dev, 1, &c->fence))) < 0 ||
	    (error = VKC(vkQueueSubmit(vk->queue, 1, &si, c->fence))) < 0 ||
	    (error = VKC(vkWaitForFences(vk->dev, 1, &c->fence, VK_TRUE, UINT64_MAX))) < 0)
		return error;
	if (c->queries)
		return collect_times(c);
	return 0;
}

unsigned vk_cmd_n_dispatches(const struct vk_cmd *c)
{
	return c->n_dispatches;
}

double vk_cmd_last_ns(const struct vk_cmd *c)
{
	return c->last_ns;
}

/* ---------------------------------------------------------------- profile */

void vk_prof_reset(struct vk *vk)
{
	for (size_t i = 0; i < vk->n_prof; i++)
		free(vk->prof[i].label);
	vk->n_prof = 0;
}

static int by_time(const void *a, const void *b)
{
	const struct prof_row *x = a, *y = b;

	return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

void vk_prof_print(const struct vk *vk, FILE *f)
{
	struct prof_row *rows;
	double total = 0;

	if (!vk->n_prof)
		return;
	if (!(rows = malloc(vk->n_prof * sizeof(*rows))))
		return;
	memcpy(rows, vk->prof, vk->n_prof * sizeof(*rows));
	qsort(rows, vk->n_prof, sizeof(*rows), by_time);
	for (size_t i = 0; i < vk->n_prof; i++)
		total += rows[i].ns;
	fprintf(f, "%-40s %8s %11s %6s %9s %8s\n", "op", "calls", "ms total", "%", "GFLOP/s",
		"GB/s");
	for (size_t i = 0; i < vk->n_prof; i++) {
		const struct prof_row *r = &rows[i];

		fprintf(f, "%-40s %8u %11.3f %6.1f", r->label, r->calls, r->ns / 1e6,
			total > 0 ? 100.0 * r->ns / total : 0.0);
		if (r->flops > 0 && r->ns > 0)
			fprintf(f, " %9.2f", r->flops / r->ns);
		else
			fprintf(f, " %9s", "");
		if (r->bytes > 0 && r->ns > 0)
			fprintf(f, " %8.2f", r->bytes / r->ns);
		fputc('\n', f);
	}
	fprintf(f, "%-40s %8s %11.3f\n", "total", "", total / 1e6);
	free(rows);
}

unsigned vk_prof_sum(const struct vk *vk, const char *prefix, double *ns_out, double *flops_out,
		     double *bytes_out)
{
	unsigned calls = 0;
	double ns = 0, fl = 0, by = 0;

	for (size_t i = 0; i < vk->n_prof; i++) {
		const struct prof_row *r = &vk->prof[i];

		if (prefix && strncmp(r->label, prefix, strlen(prefix)))
			continue;
		calls += r->calls;
		ns += r->ns;
		fl += r->flops;
		by += r->bytes;
	}
	if (ns_out)
		*ns_out = ns;
	if (flops_out)
		*flops_out = fl;
	if (bytes_out)
		*bytes_out = by;
	return calls;
}
