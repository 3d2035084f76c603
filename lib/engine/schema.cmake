# JSON Schema validator (draft 2020-12 and draft-07): compiler, evaluator, the
# per-thread cache of compiled schemas, and the helpers only they use.
set (SB_SCHEMA_SOURCES
     ${CMAKE_CURRENT_LIST_DIR}/sb_schema.c
     ${CMAKE_CURRENT_LIST_DIR}/sb_schema_validate.c
     ${CMAKE_CURRENT_LIST_DIR}/sb_schema_cache.c
     ${CMAKE_CURRENT_LIST_DIR}/sb_schema_meta.c
     ${CMAKE_CURRENT_LIST_DIR}/sb_schema_uri.c
     ${CMAKE_CURRENT_LIST_DIR}/sb_schema_value.c
     ${CMAKE_CURRENT_LIST_DIR}/sb_regex.c)
target_sources (sbengine PRIVATE ${SB_SCHEMA_SOURCES})
# tests/schema.cmake compiles these into the fuzz target itself: only a fuzz
# target's own sources get libFuzzer's coverage instrumentation.
set (SB_SCHEMA_SOURCES ${SB_SCHEMA_SOURCES} PARENT_SCOPE)
