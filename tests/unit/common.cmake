sb_add_test (test_sb_json_scan SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sb_json_scan.c LIBS sbcommon)
sb_add_test (test_sb_sse SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sb_sse.c LIBS sbcommon)
sb_add_test (test_sb_out SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sb_out.c LIBS sbcommon)
sb_add_test (test_sb_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sb_config.c LIBS sbcommon)
sb_add_fuzz (fuzz_json_scan SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_json_scan.c LIBS sbcommon
             CORPUS tests/fuzz/corpus/fuzz_json_scan)
sb_add_test (test_sb_metrics SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sb_metrics.c LIBS sbcommon)
