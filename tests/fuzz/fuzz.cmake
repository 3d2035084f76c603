# Fuzz targets of the request path. (Engine targets register in their own fragments.)
if (TARGET sbproto)
    sb_add_fuzz (fuzz_msg SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_msg.c LIBS sbproto
                 CORPUS tests/fuzz/corpus/fuzz_msg)
endif ()
