// Parse-only stand-in for the CUDA toolkit, cuBLAS(Lt) and NCCL headers (see README.md).
// Opaque handles, enums of the names projects use, SDK functions as C variadics.
#pragma once

#if defined(__CUDA__)
// clang -x cuda -nocudainc: the qualifiers are clang attributes, the builtin variables its own header.
#  define __host__ __attribute__((host))
#  define __device__ __attribute__((device))
#  define __global__ __attribute__((global))
#  define __shared__ __attribute__((shared))
#  define __constant__ __attribute__((constant))
#  define __managed__ __attribute__((managed))
#  define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
#  include <__clang_cuda_builtin_vars.h>
#else
#  define __host__
#  define __device__
#  define __global__
#  define __shared__
#  define __constant__
#  define __managed__
#  define __launch_bounds__(...)
#endif
#include <cstddef>
#include <cstdint>

#define __forceinline__ inline
#define __noinline__
#define __align__(n) alignas(n)
#define __restrict__ __restrict
#define CUDART_VERSION 12040
#define CUDA_VERSION 12040
#define __CUDACC_VER_MAJOR__ 12
#define __CUDACC_VER_MINOR__ 4
#define NCCL_MAJOR 2
#define NCCL_MINOR 21

extern "C" {
#define KSTUB_CUDA(name) cudaError_t name(...);
#define KSTUB_CUBLAS(name) cublasStatus_t name(...);
#define KSTUB_NCCL(name) ncclResult_t name(...);
typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
typedef struct CUgraph_st* cudaGraph_t;
typedef struct CUgraphExec_st* cudaGraphExec_t;
typedef struct CUmemPoolHandle_st* cudaMemPool_t;
typedef struct CUstream_st* CUstream;
typedef struct CUctx_st* CUcontext;
typedef struct CUmod_st* CUmodule;
typedef struct CUfunc_st* CUfunction;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef int CUresult;
typedef struct cudaArray* cudaArray_t;
typedef struct cudaGraphNode_st* cudaGraphNode_t;
typedef unsigned long long cudaTextureObject_t;
typedef struct cublasContext* cublasHandle_t;
typedef struct cublasLtContext* cublasLtHandle_t;
typedef struct cublasLtMatmulDescOpaque_st* cublasLtMatmulDesc_t;
typedef struct cublasLtMatrixLayoutOpaque_st* cublasLtMatrixLayout_t;
typedef struct cublasLtMatmulPreferenceOpaque_st* cublasLtMatmulPreference_t;
typedef struct cublasLtMatrixTransformDescOpaque_st* cublasLtMatrixTransformDesc_t;
typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;
typedef struct {
  cublasLtMatmulAlgo_t algo; size_t workspaceSize; int state; float wavesCount; int reserved[4];
} cublasLtMatmulHeuristicResult_t;
typedef struct ncclComm* ncclComm_t;
typedef struct { char internal[128]; } ncclUniqueId;
typedef struct nvmlDevice_st* nvmlDevice_t;
typedef struct curandStateXORWOW { unsigned d; } curandState;
typedef struct curandStatePhilox4_32_10 { unsigned d; } curandStatePhilox4_32_10_t;
typedef unsigned long long cudaGraphInstantiateFlags;

typedef enum cudaError { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2,
  cudaErrorNotReady = 600, cudaErrorPeerAccessAlreadyEnabled = 704, cudaErrorUnknown = 999 } cudaError_t;
typedef enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost,
  cudaMemcpyDeviceToDevice, cudaMemcpyDefault } cudaMemcpyKind;
typedef enum cudaDataType_t { CUDA_R_16F, CUDA_C_16F, CUDA_R_16BF, CUDA_C_16BF, CUDA_R_32F, CUDA_C_32F,
  CUDA_R_64F, CUDA_C_64F, CUDA_R_8I, CUDA_C_8I, CUDA_R_8U, CUDA_C_8U, CUDA_R_32I, CUDA_C_32I,
  CUDA_R_8F_E4M3, CUDA_R_8F_E5M2, CUDA_R_4I, CUDA_R_16I } cudaDataType_t;
typedef cudaDataType_t cudaDataType;
typedef enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal, cudaStreamCaptureModeThreadLocal,
  cudaStreamCaptureModeRelaxed } cudaStreamCaptureMode;
typedef enum cudaStreamCaptureStatus { cudaStreamCaptureStatusNone, cudaStreamCaptureStatusActive,
  cudaStreamCaptureStatusInvalidated } cudaStreamCaptureStatus;
typedef enum cudaMemPoolAttr { cudaMemPoolReuseFollowEventDependencies, cudaMemPoolReuseAllowOpportunistic,
  cudaMemPoolReuseAllowInternalDependencies, cudaMemPoolAttrReleaseThreshold, cudaMemPoolAttrReservedMemCurrent,
  cudaMemPoolAttrReservedMemHigh, cudaMemPoolAttrUsedMemCurrent, cudaMemPoolAttrUsedMemHigh } cudaMemPoolAttr;
typedef enum cudaDeviceAttr { cudaDevAttrMaxThreadsPerBlock = 1, cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrMultiProcessorCount = 16, cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
  cudaDevAttrMemoryPoolsSupported = 115, cudaDevAttrL2CacheSize = 38, cudaDevAttrMaxRegistersPerBlock = 12,
  cudaDevAttrMemoryPoolSupportedHandleTypes = 119 } cudaDeviceAttr;
typedef enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9 } cudaFuncAttribute;
typedef enum cudaLimit { cudaLimitStackSize, cudaLimitPrintfFifoSize, cudaLimitMallocHeapSize } cudaLimit;
typedef enum cudaSharedMemConfig { cudaSharedMemBankSizeDefault, cudaSharedMemBankSizeFourByte,
  cudaSharedMemBankSizeEightByte } cudaSharedMemConfig;
struct cudaDeviceProp {
  char name[256]; size_t totalGlobalMem; size_t sharedMemPerBlock; int regsPerBlock; int warpSize;
  int maxThreadsPerBlock; int maxThreadsDim[3]; int maxGridSize[3]; int major; int minor;
  int multiProcessorCount; int l2CacheSize; size_t sharedMemPerBlockOptin; int maxThreadsPerMultiProcessor;
  size_t sharedMemPerMultiprocessor; int pciBusID; int pciDeviceID; int pciDomainID;
};
struct cudaPointerAttributes { int type; int device; void* devicePointer; void* hostPointer; };
struct cudaFuncAttributes { size_t sharedSizeBytes; int maxThreadsPerBlock; int numRegs; };
struct dim3 {
  unsigned int x, y, z;
#ifdef __cplusplus
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
#endif
};
#define cudaStreamNonBlocking 0x01
#define cudaStreamDefault 0x00
#define cudaEventDefault 0x00
#define cudaEventDisableTiming 0x02
#define cudaHostAllocDefault 0x00
#define cudaHostAllocPortable 0x01
#define cudaHostAllocMapped 0x02
#define cudaHostRegisterDefault 0x00
#define cudaDeviceScheduleBlockingSync 0x04

typedef enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_NOT_INITIALIZED = 1, CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7, CUBLAS_STATUS_ARCH_MISMATCH = 8, CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13, CUBLAS_STATUS_INTERNAL_ERROR = 14, CUBLAS_STATUS_NOT_SUPPORTED = 15,
  CUBLAS_STATUS_LICENSE_ERROR = 16 } cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 } cublasOperation_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1, CUBLAS_GEMM_DEFAULT_TENSOR_OP = 99, CUBLAS_GEMM_ALGO0 = 0 } cublasGemmAlgo_t;
typedef enum { CUBLAS_COMPUTE_16F = 64, CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_16F = 74,
  CUBLAS_COMPUTE_32F_FAST_16BF = 75, CUBLAS_COMPUTE_32F_FAST_TF32 = 77, CUBLAS_COMPUTE_32I = 72 } cublasComputeType_t;
typedef enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TENSOR_OP_MATH = 1, CUBLAS_TF32_TENSOR_OP_MATH = 3 } cublasMath_t;
typedef enum { CUBLAS_POINTER_MODE_HOST = 0, CUBLAS_POINTER_MODE_DEVICE = 1 } cublasPointerMode_t;
typedef enum { CUBLASLT_ORDER_COL = 0, CUBLASLT_ORDER_ROW = 1, CUBLASLT_ORDER_COL32 = 2,
  CUBLASLT_ORDER_COL4_4R2_8C = 3, CUBLASLT_ORDER_COL32_2R_4R4 = 4 } cublasLtOrder_t;
typedef enum { CUBLASLT_MATRIX_LAYOUT_TYPE = 0, CUBLASLT_MATRIX_LAYOUT_ORDER = 1, CUBLASLT_MATRIX_LAYOUT_ROWS = 2,
  CUBLASLT_MATRIX_LAYOUT_COLS = 3, CUBLASLT_MATRIX_LAYOUT_LD = 4, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = 5,
  CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6 } cublasLtMatrixLayoutAttribute_t;
typedef enum { CUBLASLT_MATMUL_DESC_COMPUTE_TYPE = 0, CUBLASLT_MATMUL_DESC_SCALE_TYPE = 1,
  CUBLASLT_MATMUL_DESC_POINTER_MODE = 2, CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4,
  CUBLASLT_MATMUL_DESC_TRANSC = 5, CUBLASLT_MATMUL_DESC_EPILOGUE = 7, CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
  CUBLASLT_MATMUL_DESC_A_SCALE_POINTER = 17, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER = 18,
  CUBLASLT_MATMUL_DESC_C_SCALE_POINTER = 19, CUBLASLT_MATMUL_DESC_D_SCALE_POINTER = 20,
  CUBLASLT_MATMUL_DESC_FAST_ACCUM = 25 } cublasLtMatmulDescAttributes_t;
typedef enum { CUBLASLT_MATMUL_PREF_SEARCH_MODE = 0, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1 }
    cublasLtMatmulPreferenceAttributes_t;
typedef enum { CUBLASLT_ALGO_CONFIG_ID = 0, CUBLASLT_ALGO_CONFIG_TILE_ID = 1, CUBLASLT_ALGO_CONFIG_SPLITK_NUM = 2,
  CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME = 3, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING = 4,
  CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION = 5, CUBLASLT_ALGO_CONFIG_STAGES_ID = 6 } cublasLtMatmulAlgoConfigAttributes_t;
typedef enum { CUBLASLT_EPILOGUE_DEFAULT = 1, CUBLASLT_EPILOGUE_RELU = 2, CUBLASLT_EPILOGUE_BIAS = 4,
  CUBLASLT_EPILOGUE_GELU = 32 } cublasLtEpilogue_t;
typedef enum { CUBLASLT_POINTER_MODE_HOST = 0, CUBLASLT_POINTER_MODE_DEVICE = 1 } cublasLtPointerMode_t;

typedef enum { ncclSuccess = 0, ncclUnhandledCudaError = 1, ncclSystemError = 2, ncclInternalError = 3,
  ncclInvalidArgument = 4, ncclInvalidUsage = 5, ncclRemoteError = 6, ncclInProgress = 7 } ncclResult_t;
typedef enum { ncclInt8 = 0, ncclChar = 0, ncclUint8 = 1, ncclInt32 = 2, ncclInt = 2, ncclUint32 = 3,
  ncclInt64 = 4, ncclUint64 = 5, ncclFloat16 = 6, ncclHalf = 6, ncclFloat32 = 7, ncclFloat = 7,
  ncclFloat64 = 8, ncclDouble = 8, ncclBfloat16 = 9, ncclFloat8e4m3 = 10, ncclFloat8e5m2 = 11,
  ncclNumTypes = 12 } ncclDataType_t;
typedef enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 } ncclRedOp_t;
typedef enum { NVML_SUCCESS = 0 } nvmlReturn_t;

typedef unsigned long long CUmemGenericAllocationHandle;
typedef struct { unsigned char data[64]; } CUmemFabricHandle;
typedef enum { CU_MEM_HANDLE_TYPE_NONE = 0, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR = 1,
  CU_MEM_HANDLE_TYPE_FABRIC = 8 } CUmemAllocationHandleType;
typedef enum { CU_MEM_LOCATION_TYPE_INVALID = 0, CU_MEM_LOCATION_TYPE_DEVICE = 1 } CUmemLocationType;
typedef enum { CU_MEM_ALLOCATION_TYPE_INVALID = 0, CU_MEM_ALLOCATION_TYPE_PINNED = 1 } CUmemAllocationType;
typedef enum { CU_MEM_ACCESS_FLAGS_PROT_NONE = 0, CU_MEM_ACCESS_FLAGS_PROT_READ = 1,
  CU_MEM_ACCESS_FLAGS_PROT_READWRITE = 3 } CUmemAccess_flags;
typedef enum { CU_MEM_ALLOC_GRANULARITY_MINIMUM = 0, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED = 1 }
    CUmemAllocationGranularity_flags;
typedef enum { CU_MULTICAST_GRANULARITY_MINIMUM = 0, CU_MULTICAST_GRANULARITY_RECOMMENDED = 1 }
    CUmulticastGranularity_flags;
typedef enum { CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16, CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED = 132,
  CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED = 128 } CUdevice_attribute;
typedef struct { CUmemLocationType type; int id; } CUmemLocation;
typedef struct { CUmemAllocationType type; CUmemAllocationHandleType requestedHandleTypes; CUmemLocation location;
  void* win32HandleMetaData; struct { unsigned char compressionType, gpuDirectRDMACapable; unsigned short usage;
  unsigned char reserved[4]; } allocFlags; } CUmemAllocationProp;
typedef struct { CUmemLocation location; CUmemAccess_flags flags; } CUmemAccessDesc;
typedef struct { unsigned int numDevices; size_t size; unsigned long long handleTypes; unsigned long long flags; }
    CUmulticastObjectProp;
enum cudaMemLocationType { cudaMemLocationTypeInvalid = 0, cudaMemLocationTypeDevice = 1 };
enum cudaMemAllocationType { cudaMemAllocationTypeInvalid = 0, cudaMemAllocationTypePinned = 1 };
enum cudaMemAllocationHandleType { cudaMemHandleTypeNone = 0, cudaMemHandleTypePosixFileDescriptor = 1 };
enum cudaMemAccessFlags { cudaMemAccessFlagsProtNone = 0, cudaMemAccessFlagsProtRead = 1,
  cudaMemAccessFlagsProtReadWrite = 3 };
struct cudaMemLocation { enum cudaMemLocationType type; int id; };
struct cudaMemAccessDesc { struct cudaMemLocation location; enum cudaMemAccessFlags flags; };
struct cudaMemPoolProps { enum cudaMemAllocationType allocType; enum cudaMemAllocationHandleType handleTypes;
  struct cudaMemLocation location; void* win32SecurityAttributes; size_t maxSize; unsigned char reserved[56]; };
CUresult cuMemCreate(...); CUresult cuMemRelease(...); CUresult cuMemMap(...); CUresult cuMemUnmap(...);
CUresult cuMemSetAccess(...); CUresult cuMemAddressReserve(...); CUresult cuMemAddressFree(...);
CUresult cuMemExportToShareableHandle(...); CUresult cuMemImportFromShareableHandle(...);
CUresult cuMemGetAllocationGranularity(...); CUresult cuDeviceGetAttribute(...); CUresult cuMemsetD8(...);
CUresult cuMulticastCreate(...); CUresult cuMulticastAddDevice(...); CUresult cuMulticastBindMem(...);
CUresult cuMulticastGetGranularity(...); CUresult cuMulticastUnbind(...); CUresult cuStreamWaitValue32(...);
CUresult cuStreamWriteValue32(...); CUresult cuLaunchKernel(...); CUresult cuModuleLoad(...);
CUresult cuModuleLoadData(...); CUresult cuModuleGetFunction(...); CUresult cuFuncSetAttribute(...);
KSTUB_CUDA(cudaMemPoolSetAccess) KSTUB_CUDA(cudaMemPoolExportToShareableHandle)
KSTUB_CUDA(cudaMemPoolImportFromShareableHandle) KSTUB_CUDA(cudaStreamGetPriority)
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char* cudaGetErrorString(cudaError_t);
const char* cudaGetErrorName(cudaError_t);
const char* cublasGetStatusString(cublasStatus_t);
const char* ncclGetErrorString(ncclResult_t);
const char* nvmlErrorString(nvmlReturn_t);
const char* _cudaGetErrorEnum(...);
// The rest take anything: a stand-in never checks SDK argument lists.
KSTUB_CUDA(cudaSetDevice) KSTUB_CUDA(cudaGetDevice) KSTUB_CUDA(cudaGetDeviceCount)
KSTUB_CUDA(cudaGetDeviceProperties) KSTUB_CUDA(cudaDeviceGetAttribute) KSTUB_CUDA(cudaDeviceSynchronize)
KSTUB_CUDA(cudaDeviceReset) KSTUB_CUDA(cudaDriverGetVersion) KSTUB_CUDA(cudaRuntimeGetVersion)
KSTUB_CUDA(cudaDeviceCanAccessPeer) KSTUB_CUDA(cudaDeviceEnablePeerAccess) KSTUB_CUDA(cudaDeviceDisablePeerAccess)
KSTUB_CUDA(cudaDeviceGetDefaultMemPool) KSTUB_CUDA(cudaDeviceSetMemPool) KSTUB_CUDA(cudaDeviceGetMemPool)
KSTUB_CUDA(cudaDeviceSetLimit) KSTUB_CUDA(cudaDeviceGetLimit) KSTUB_CUDA(cudaDeviceGetPCIBusId)
KSTUB_CUDA(cudaSetDeviceFlags) KSTUB_CUDA(cudaDeviceSetSharedMemConfig)
KSTUB_CUDA(cudaMalloc) KSTUB_CUDA(cudaMallocAsync) KSTUB_CUDA(cudaMallocHost) KSTUB_CUDA(cudaMallocManaged)
KSTUB_CUDA(cudaHostAlloc) KSTUB_CUDA(cudaHostRegister) KSTUB_CUDA(cudaHostUnregister)
KSTUB_CUDA(cudaHostGetDevicePointer) KSTUB_CUDA(cudaFree) KSTUB_CUDA(cudaFreeAsync) KSTUB_CUDA(cudaFreeHost)
KSTUB_CUDA(cudaMemcpy) KSTUB_CUDA(cudaMemcpyAsync) KSTUB_CUDA(cudaMemcpy2D) KSTUB_CUDA(cudaMemcpy2DAsync)
KSTUB_CUDA(cudaMemcpyPeer) KSTUB_CUDA(cudaMemcpyPeerAsync) KSTUB_CUDA(cudaMemcpyToSymbol)
KSTUB_CUDA(cudaMemcpyFromSymbol) KSTUB_CUDA(cudaMemcpyToSymbolAsync) KSTUB_CUDA(cudaMemset)
KSTUB_CUDA(cudaMemsetAsync) KSTUB_CUDA(cudaMemGetInfo) KSTUB_CUDA(cudaPointerGetAttributes)
KSTUB_CUDA(cudaMemPoolSetAttribute) KSTUB_CUDA(cudaMemPoolGetAttribute) KSTUB_CUDA(cudaMemPoolTrimTo)
KSTUB_CUDA(cudaMemPoolCreate) KSTUB_CUDA(cudaMemPoolDestroy) KSTUB_CUDA(cudaMallocFromPoolAsync)
KSTUB_CUDA(cudaStreamCreate) KSTUB_CUDA(cudaStreamCreateWithFlags) KSTUB_CUDA(cudaStreamCreateWithPriority)
KSTUB_CUDA(cudaStreamDestroy) KSTUB_CUDA(cudaStreamSynchronize) KSTUB_CUDA(cudaStreamWaitEvent)
KSTUB_CUDA(cudaStreamQuery) KSTUB_CUDA(cudaStreamBeginCapture) KSTUB_CUDA(cudaStreamEndCapture)
KSTUB_CUDA(cudaStreamIsCapturing) KSTUB_CUDA(cudaStreamGetCaptureInfo) KSTUB_CUDA(cudaDeviceGetStreamPriorityRange)
KSTUB_CUDA(cudaEventCreate) KSTUB_CUDA(cudaEventCreateWithFlags) KSTUB_CUDA(cudaEventDestroy)
KSTUB_CUDA(cudaEventRecord) KSTUB_CUDA(cudaEventSynchronize) KSTUB_CUDA(cudaEventElapsedTime)
KSTUB_CUDA(cudaEventQuery) KSTUB_CUDA(cudaGraphInstantiate) KSTUB_CUDA(cudaGraphLaunch)
KSTUB_CUDA(cudaGraphDestroy) KSTUB_CUDA(cudaGraphExecDestroy) KSTUB_CUDA(cudaGraphExecUpdate)
KSTUB_CUDA(cudaFuncSetAttribute) KSTUB_CUDA(cudaFuncGetAttributes) KSTUB_CUDA(cudaLaunchKernel)
KSTUB_CUDA(cudaLaunchCooperativeKernel) KSTUB_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor)
KSTUB_CUDA(cudaIpcGetMemHandle) KSTUB_CUDA(cudaIpcOpenMemHandle) KSTUB_CUDA(cudaIpcCloseMemHandle)
KSTUB_CUDA(cudaProfilerStart) KSTUB_CUDA(cudaProfilerStop) KSTUB_CUDA(cudaThreadExchangeStreamCaptureMode)
CUresult cuInit(...); CUresult cuGetErrorString(...); CUresult cuGetErrorName(...); CUresult cuCtxGetCurrent(...);
CUresult cuDeviceGet(...); CUresult cuMemAlloc(...); CUresult cuMemFree(...); CUresult cuGetProcAddress(...);
CUresult cuDriverGetVersion(...); CUresult cuPointerGetAttribute(...); CUresult cuMemGetAddressRange(...);
KSTUB_CUBLAS(cublasCreate) KSTUB_CUBLAS(cublasDestroy) KSTUB_CUBLAS(cublasSetStream) KSTUB_CUBLAS(cublasGetStream)
KSTUB_CUBLAS(cublasSetWorkspace) KSTUB_CUBLAS(cublasSetMathMode) KSTUB_CUBLAS(cublasGemmEx)
KSTUB_CUBLAS(cublasGemmStridedBatchedEx) KSTUB_CUBLAS(cublasGemmBatchedEx) KSTUB_CUBLAS(cublasSgemm)
KSTUB_CUBLAS(cublasHgemm) KSTUB_CUBLAS(cublasSetPointerMode)
KSTUB_CUBLAS(cublasLtCreate) KSTUB_CUBLAS(cublasLtDestroy) KSTUB_CUBLAS(cublasLtMatmul)
KSTUB_CUBLAS(cublasLtMatmulDescCreate) KSTUB_CUBLAS(cublasLtMatmulDescDestroy)
KSTUB_CUBLAS(cublasLtMatmulDescSetAttribute) KSTUB_CUBLAS(cublasLtMatmulDescGetAttribute)
KSTUB_CUBLAS(cublasLtMatrixLayoutCreate) KSTUB_CUBLAS(cublasLtMatrixLayoutDestroy)
KSTUB_CUBLAS(cublasLtMatrixLayoutSetAttribute) KSTUB_CUBLAS(cublasLtMatrixLayoutGetAttribute)
KSTUB_CUBLAS(cublasLtMatmulPreferenceCreate) KSTUB_CUBLAS(cublasLtMatmulPreferenceDestroy)
KSTUB_CUBLAS(cublasLtMatmulPreferenceSetAttribute) KSTUB_CUBLAS(cublasLtMatmulAlgoGetHeuristic)
KSTUB_CUBLAS(cublasLtMatmulAlgoInit) KSTUB_CUBLAS(cublasLtMatmulAlgoConfigSetAttribute)
KSTUB_CUBLAS(cublasLtMatmulAlgoConfigGetAttribute) KSTUB_CUBLAS(cublasLtMatmulAlgoCheck)
KSTUB_CUBLAS(cublasLtMatmulAlgoGetIds) KSTUB_CUBLAS(cublasLtMatmulAlgoCapGetAttribute)
KSTUB_CUBLAS(cublasLtMatrixTransform) KSTUB_CUBLAS(cublasLtMatrixTransformDescCreate)
KSTUB_CUBLAS(cublasLtMatrixTransformDescDestroy) KSTUB_CUBLAS(cublasLtMatrixTransformDescSetAttribute)
KSTUB_NCCL(ncclGetUniqueId) KSTUB_NCCL(ncclCommInitRank) KSTUB_NCCL(ncclCommInitAll) KSTUB_NCCL(ncclCommDestroy)
KSTUB_NCCL(ncclCommAbort) KSTUB_NCCL(ncclCommCount) KSTUB_NCCL(ncclCommUserRank) KSTUB_NCCL(ncclCommGetAsyncError)
KSTUB_NCCL(ncclGroupStart) KSTUB_NCCL(ncclGroupEnd) KSTUB_NCCL(ncclAllReduce) KSTUB_NCCL(ncclAllGather)
KSTUB_NCCL(ncclReduceScatter) KSTUB_NCCL(ncclBroadcast) KSTUB_NCCL(ncclReduce) KSTUB_NCCL(ncclSend)
KSTUB_NCCL(ncclRecv) KSTUB_NCCL(ncclGetVersion) KSTUB_NCCL(ncclCommSplit) KSTUB_NCCL(ncclCommInitRankConfig)
nvmlReturn_t nvmlInit(...); nvmlReturn_t nvmlInit_v2(...); nvmlReturn_t nvmlShutdown(...);
nvmlReturn_t nvmlDeviceGetHandleByIndex(...); nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(...);
nvmlReturn_t nvmlDeviceGetP2PStatus(...); nvmlReturn_t nvmlDeviceGetMemoryInfo(...);
nvmlReturn_t nvmlDeviceGetNvLinkState(...); nvmlReturn_t nvmlDeviceGetCount(...);
// clang lowers `kernel<<<grid, block, smem, stream>>>(...)` to a call of this.
unsigned __cudaPushCallConfiguration(dim3 gridDim, dim3 blockDim, size_t sharedMem = 0, cudaStream_t stream = 0);
void nvtxRangePushA(const char*); void nvtxRangePop(void); void nvtxMarkA(const char*);
}  // extern "C"

// Vector types (device code in headers uses them).
#define KSTUB_VEC2(T, B) struct T { B x, y; };
#define KSTUB_VEC3(T, B) struct T { B x, y, z; };
#define KSTUB_VEC4(T, B) struct T { B x, y, z, w; };
KSTUB_VEC2(float2, float) KSTUB_VEC3(float3, float) KSTUB_VEC4(float4, float)
KSTUB_VEC2(double2, double) KSTUB_VEC4(double4, double)
KSTUB_VEC2(int2, int) KSTUB_VEC3(int3, int) KSTUB_VEC4(int4, int)
KSTUB_VEC2(uint2, unsigned) KSTUB_VEC3(uint3, unsigned) KSTUB_VEC4(uint4, unsigned)
KSTUB_VEC2(char2, signed char) KSTUB_VEC4(char4, signed char)
KSTUB_VEC2(uchar2, unsigned char) KSTUB_VEC4(uchar4, unsigned char)
KSTUB_VEC2(short2, short) KSTUB_VEC4(short4, short)
KSTUB_VEC2(ushort2, unsigned short) KSTUB_VEC4(ushort4, unsigned short)
KSTUB_VEC2(longlong2, long long) KSTUB_VEC2(ulonglong2, unsigned long long)
#define KSTUB_HD __host__ __device__
KSTUB_HD inline float2 make_float2(float x, float y) { return {x, y}; }
KSTUB_HD inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
KSTUB_HD inline int2 make_int2(int x, int y) { return {x, y}; }
KSTUB_HD inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
KSTUB_HD inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

// Half-precision and fp8 value types: small structs with the conversions projects lean on.
struct __half {
  unsigned short x;
  KSTUB_HD __half() = default;
  KSTUB_HD __half(float) {}
  KSTUB_HD __half(double) {}
  KSTUB_HD __half(int) {}
  KSTUB_HD operator float() const { return 0.f; }
};
struct __half2 { __half x, y; __half2() = default; __half2(__half a, __half b) : x(a), y(b) {} };
typedef __half half;
typedef __half2 half2;
struct __nv_bfloat16 {
  unsigned short x;
  KSTUB_HD __nv_bfloat16() = default;
  KSTUB_HD __nv_bfloat16(float) {}
  KSTUB_HD __nv_bfloat16(double) {}
  KSTUB_HD __nv_bfloat16(int) {}
  KSTUB_HD operator float() const { return 0.f; }
};
struct __nv_bfloat162 {
  __nv_bfloat16 x, y;
  KSTUB_HD __nv_bfloat162() = default;
  KSTUB_HD __nv_bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) : x(a), y(b) {}
};
typedef __nv_bfloat16 nv_bfloat16;
typedef __nv_bfloat162 nv_bfloat162;
struct __nv_fp8_e4m3 { unsigned char __x; __nv_fp8_e4m3() = default; KSTUB_HD __nv_fp8_e4m3(float) {} KSTUB_HD operator float() const { return 0.f; } };
struct __nv_fp8_e5m2 { unsigned char __x; __nv_fp8_e5m2() = default; KSTUB_HD __nv_fp8_e5m2(float) {} KSTUB_HD operator float() const { return 0.f; } };
typedef unsigned char __nv_fp8_storage_t;
struct __nv_fp8x2_e4m3 { unsigned short __x; };
struct __nv_fp8x4_e4m3 { unsigned int __x; };
KSTUB_HD inline float __half2float(__half) { return 0.f; }
KSTUB_HD inline __half __float2half(float) { return __half(); }
KSTUB_HD inline float __bfloat162float(__nv_bfloat16) { return 0.f; }
KSTUB_HD inline __nv_bfloat16 __float2bfloat16(float) { return __nv_bfloat16(); }
