# Unit tests of the OpenAI <-> Anthropic translation (lib/common/sb_anthropic*), driven
# by the one-case-per-file fixtures in tests/data/anthropic.
if (TARGET sbcommon)
    sb_add_test (test_sb_anthropic SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sb_anthropic.c
                 LIBS sbcommon)
    target_compile_definitions (test_sb_anthropic
                                PRIVATE SB_ANTHROPIC_DATA="${CMAKE_CURRENT_LIST_DIR}/data/anthropic")
endif ()
