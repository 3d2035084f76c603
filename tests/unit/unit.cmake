# Unit tests of the request-path modules (proto, lib/common, services' pure parts).
if (TARGET sbproto)
    sb_add_test (test_sb_msg SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sb_msg.c LIBS sbproto)
endif ()
if (TARGET sbcommon)
    include (${CMAKE_CURRENT_LIST_DIR}/common.cmake OPTIONAL)
endif ()

add_test (NAME clang_format COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-format.sh)
set_tests_properties (clang_format PROPERTIES TIMEOUT 120 LABELS unit)
