# Core modules of sbcommon (the request path's shared pieces).
target_sources (sbcommon PRIVATE
    ${CMAKE_CURRENT_LIST_DIR}/sb_config.c
    ${CMAKE_CURRENT_LIST_DIR}/sb_json_scan.c
    ${CMAKE_CURRENT_LIST_DIR}/sb_sse.c
    ${CMAKE_CURRENT_LIST_DIR}/sb_oai_error.c)
target_sources (sbcommon PRIVATE ${CMAKE_CURRENT_LIST_DIR}/sb_metrics.c ${CMAKE_CURRENT_LIST_DIR}/sb_zmsg.c)
