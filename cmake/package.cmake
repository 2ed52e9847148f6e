# SPDX-License-Identifier: MIT
# package.cmake - how other builds find the installed library: a CMake
# package (find_package(hotrestart) gives hotrestart::hotrestart and
# hotrestart::hotrestart_static) and a pkg-config file (hotrestart.pc).
#
# Both say where the ChorusOS headers are: HR_CHORUS_INCLUDEDIR, on the
# include path beside the main include directory.
include(CMakePackageConfigHelpers)
set(HR_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/hotrestart)

install(EXPORT hotrestartTargets NAMESPACE hotrestart::
        FILE hotrestartTargets.cmake DESTINATION ${HR_CMAKEDIR})
configure_package_config_file(cmake/hotrestartConfig.cmake.in
  ${PROJECT_BINARY_DIR}/hotrestartConfig.cmake
  INSTALL_DESTINATION ${HR_CMAKEDIR})
# The soname's number is the major version: 0.x releases share libhotrestart.so.0.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/hotrestartConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/hotrestartConfig.cmake
        ${PROJECT_BINARY_DIR}/hotrestartConfigVersion.cmake
        DESTINATION ${HR_CMAKEDIR})

# hotrestart.pc holds plain paths under the prefix of the install, which
# `cmake --install --prefix` may change after configuring: the prefix is
# filled in when installing, the rest now.
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
    set(HR_PC_${d} "${CMAKE_INSTALL_${d}}")
  else()
    set(HR_PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
set(HR_PC_PREFIX "@CMAKE_INSTALL_PREFIX@") # left for the install step
configure_file(cmake/hotrestart.pc.in ${PROJECT_BINARY_DIR}/hotrestart.pc.in @ONLY)
install(CODE "configure_file(\"${PROJECT_BINARY_DIR}/hotrestart.pc.in\"
  \"${PROJECT_BINARY_DIR}/hotrestart.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/hotrestart.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
