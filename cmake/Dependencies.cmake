# Third-party libraries, all from Debian packages (see README "Dependencies").
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3 REQUIRED)                  # nlohmann-json3-dev
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)  # libzstd-dev
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)  # libpcre2-dev
pkg_check_modules(ICU REQUIRED IMPORTED_TARGET icu-uc)        # libicu-dev (Unicode normalization)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas) # libopenblas-dev
find_path(LAPACKE_INCLUDE_DIR lapacke.h PATH_SUFFIXES openblas)   # liblapacke-dev
find_library(LAPACKE_LIBRARY lapacke)
if(NOT LAPACKE_INCLUDE_DIR OR NOT LAPACKE_LIBRARY)
  message(FATAL_ERROR "LAPACKE not found: install liblapacke-dev")
endif()
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp)                  # libcli11-dev (header only)
if(NOT CLI11_INCLUDE_DIR)
  message(FATAL_ERROR "CLI11 not found: install libcli11-dev")
endif()

add_library(sq_deps INTERFACE)
target_include_directories(sq_deps INTERFACE ${LAPACKE_INCLUDE_DIR})
target_link_libraries(sq_deps INTERFACE nlohmann_json::nlohmann_json PkgConfig::ZSTD PkgConfig::PCRE2 PkgConfig::ICU
  PkgConfig::OPENBLAS ${LAPACKE_LIBRARY} Threads::Threads ${CMAKE_DL_LIBS})

add_library(sq_cli11 INTERFACE)
target_include_directories(sq_cli11 INTERFACE ${CLI11_INCLUDE_DIR})
