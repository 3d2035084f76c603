# Channel selection for the router: per-group strategies and priority tiers
# (sb_channel_picker) over a passive circuit breaker per channel (sb_breaker).
target_sources (sbcommon PRIVATE ${CMAKE_CURRENT_LIST_DIR}/sb_channel_picker.c
                                 ${CMAKE_CURRENT_LIST_DIR}/sb_breaker.c)
