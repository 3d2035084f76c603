# TOON encoder (sb_toon): JSON value -> TOON v4.0 text.
target_sources (sbengine PRIVATE ${CMAKE_CURRENT_LIST_DIR}/sb_toon.c)
