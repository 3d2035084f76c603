# The container test (tests/compose/run.sh): docker + dockerd made to work (installed
# and started when missing; needs root on a fresh Debian 12), the local base image and
# the switchboard image built, compose.yaml brought up, the demo checked with the
# official openai client, then --scale validator=4 with every validator taking jobs,
# and `down -v`. It does not use this build tree's binaries (the image compiles its
# own), so it is registered in narrowed builds too. Where docker cannot run, it FAILS.
# `ctest -L compose` runs it alone; -DSB_COMPOSE_TESTS=OFF leaves it out.
option (SB_COMPOSE_TESTS "Register the docker compose test (label compose)" ON)
if (SB_COMPOSE_TESTS)
    find_program (SB_COMPOSE_BASH bash)
    if (NOT SB_COMPOSE_BASH)
        set (SB_COMPOSE_BASH bash) # ctest will say it is missing: the test fails, as it should
    endif ()
    add_test (NAME compose_stack
              COMMAND ${SB_COMPOSE_BASH} ${CMAKE_CURRENT_LIST_DIR}/run.sh
              WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    # A cold machine: apt (docker.io), debootstrap and the image build take ~3-5 min of
    # it, the stack ~1 min; run.sh stops itself at SB_COMPOSE_DEADLINE, before ctest would.
    set_tests_properties (compose_stack PROPERTIES
        TIMEOUT 1500
        LABELS "e2e;compose"
        RUN_SERIAL TRUE
        ENVIRONMENT "SB_COMPOSE_OUT=${CMAKE_BINARY_DIR}/compose-test;SB_COMPOSE_DEADLINE=1400")
endif ()
