# Writes version.cpp with the project's version and the source's git commit. Run at every build
# (see CMakeLists.txt); configure_file leaves the file untouched when nothing changed, so nothing
# is recompiled then.
#   cmake -DSOURCE_DIR=... -DOUTPUT=... -DVERSION=... -P version.cmake
execute_process(COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE GOOGLENET_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE git_status)
if(NOT git_status EQUAL 0 OR GOOGLENET_COMMIT STREQUAL "")
  set(GOOGLENET_COMMIT "unknown")
endif()
set(GOOGLENET_VERSION "${VERSION}")
configure_file("${SOURCE_DIR}/src/core/version.cpp.in" "${OUTPUT}" @ONLY)
