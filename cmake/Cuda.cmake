# The CUDA backend is optional. AUTO turns it on when nvcc, cuBLAS and cuSOLVER are all found.
set(SQ_HAVE_CUDA OFF)
if(NOT SQ_WITH_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    find_package(CUDAToolkit QUIET)
  endif()
  if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND AND TARGET CUDA::cublas AND TARGET CUDA::cusolver)
    set(SQ_HAVE_CUDA ON)
  elseif(SQ_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SQ_WITH_CUDA=ON but nvcc, cuBLAS or cuSOLVER was not found")
  endif()
endif()
if(SQ_HAVE_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80 90)   # Ampere and Hopper (sm_90: H100/H200)
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
endif()
message(STATUS "streamquant: CUDA backend ${SQ_HAVE_CUDA} (SQ_WITH_CUDA=${SQ_WITH_CUDA})")

function(sq_add_cuda_sources target)
  if(NOT SQ_HAVE_CUDA)
    return()
  endif()
  file(GLOB_RECURSE cuda_sources CONFIGURE_DEPENDS
    ${PROJECT_SOURCE_DIR}/src/backend/cuda/*.cpp ${PROJECT_SOURCE_DIR}/kernels/cuda/*.cu)
  target_sources(${target} PRIVATE ${cuda_sources})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/kernels)
  # The quantizers' kernels must round as the host does (the CPU build never contracts a * b + c into a fused
  # multiply-add: no -march, no FMA), or near-ties would round differently: no contraction in these files.
  foreach(exact_kernel claq_column gptq_affine gptq_lut gptq_gaussian hadamard loss_aware_affine loss_aware_team lut_kmeans
                       quantease_block)
    set_source_files_properties(${PROJECT_SOURCE_DIR}/kernels/cuda/${exact_kernel}.cu
      PROPERTIES COMPILE_OPTIONS "--fmad=false")
  endforeach()
  target_compile_definitions(${target} PUBLIC SQ_HAVE_CUDA=1)
  # Static runtime: the .so carries no libcudart dependency; cuBLAS/cuSOLVER load from the toolkit.
  target_link_libraries(${target} PUBLIC CUDA::cudart_static CUDA::cublas CUDA::cusolver)
endfunction()
