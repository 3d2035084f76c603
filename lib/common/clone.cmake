# Client side of admin's config distribution (Clone pattern): sb_clone follows
# admin's PUB + ROUTER and caches the last config on disk. Needs ZeroMQ and the
# message codec, which the rest of sbcommon does not.
target_sources (sbcommon PRIVATE ${CMAKE_CURRENT_LIST_DIR}/sb_clone.c)
target_link_libraries (sbcommon PUBLIC sbproto PkgConfig::ZMQ)
