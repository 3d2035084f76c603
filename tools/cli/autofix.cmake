# sb-autofix: AutoFix from the command line (tool-call arguments on stdin, one JSON
# report on stdout). See docs/autofix.md.
add_executable (sb-autofix ${CMAKE_CURRENT_LIST_DIR}/sb_autofix_main.c)
target_link_libraries (sb-autofix PRIVATE sbengine)
