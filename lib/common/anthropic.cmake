# OpenAI <-> Anthropic Messages translation for the router (pure logic, jansson only):
# sb_anthropic (requests, responses, errors, headers) and sb_anthropic_stream (SSE).
target_sources (sbcommon PRIVATE ${CMAKE_CURRENT_LIST_DIR}/sb_anthropic.c
                                 ${CMAKE_CURRENT_LIST_DIR}/sb_anthropic_stream.c)
