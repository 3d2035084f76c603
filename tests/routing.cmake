# Unit tests for the router's channel selection (lib/common/routing.cmake).
if (TARGET sbcommon)
    sb_add_test (test_sb_breaker SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sb_breaker.c
                 LIBS sbcommon)
    sb_add_test (test_sb_channel_picker
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sb_channel_picker.c LIBS sbcommon)
endif ()
