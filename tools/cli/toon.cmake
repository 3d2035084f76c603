# sb-toon: JSON on stdin -> TOON on stdout.
add_executable (sb-toon ${CMAKE_CURRENT_LIST_DIR}/sb_toon_main.c)
target_link_libraries (sb-toon PRIVATE sbengine)
