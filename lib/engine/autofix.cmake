# AutoFix, the tool-call repair engine: lenient JSON parser (sb_jrepair), schema-guided
# coercion (sb_coerce), the pipeline and its report (sb_autofix).
set (SB_AUTOFIX_SOURCES
     ${CMAKE_CURRENT_LIST_DIR}/sb_jrepair.c
     ${CMAKE_CURRENT_LIST_DIR}/sb_coerce.c
     ${CMAKE_CURRENT_LIST_DIR}/sb_autofix.c)
target_sources (sbengine PRIVATE ${SB_AUTOFIX_SOURCES})
# tests/autofix.cmake compiles these into the fuzz target itself (coverage).
set (SB_AUTOFIX_SOURCES ${SB_AUTOFIX_SOURCES} PARENT_SCOPE)
