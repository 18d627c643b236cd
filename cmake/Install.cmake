# Install rules: the library, its headers, the CLI, a pkg-config file and a CMake package config.
include(CMakePackageConfigHelpers)
install(TARGETS streamquant EXPORT streamquantTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS streamquant_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/streamquant DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT streamquantTargets NAMESPACE streamquant:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/streamquant)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/streamquantConfig.cmake.in
  ${CMAKE_BINARY_DIR}/streamquantConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/streamquant)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/streamquantConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/streamquantConfig.cmake ${CMAKE_BINARY_DIR}/streamquantConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/streamquant)
file(RELATIVE_PATH SQ_PC_PREFIX_REL "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/streamquant.pc.in ${CMAKE_BINARY_DIR}/streamquant.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/streamquant.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
