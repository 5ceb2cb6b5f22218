# The Odoo answer decoder's libFuzzer target (clang only). Include it from
# fuzz/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/odoo.cmake)
# The decoder's sources are compiled into the target itself (not taken from
# odoosync_common), so they get libFuzzer's coverage instrumentation.
# Run:  fuzz_odoo_response -max_total_time=60 <copy of fuzz/corpus/odoo>
# (the fuzzer adds inputs to the first corpus directory: give it a copy in CI).
set(ODOO_FUZZ_ROOT ${CMAKE_CURRENT_LIST_DIR}/..)
add_executable(fuzz_odoo_response
  ${ODOO_FUZZ_ROOT}/fuzz/fuzz_odoo_response.c
  ${ODOO_FUZZ_ROOT}/common/odoo_decode.c
  ${ODOO_FUZZ_ROOT}/common/err.c)
target_include_directories(fuzz_odoo_response PRIVATE ${ODOO_FUZZ_ROOT}/common)
# odoosync_warnings carries -Wno-format-truncation, which clang does not know.
target_compile_options(fuzz_odoo_response PRIVATE -Wno-unknown-warning-option
  -fsanitize=fuzzer,address,undefined)
target_link_options(fuzz_odoo_response PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_libraries(fuzz_odoo_response PRIVATE odoosync_warnings PkgConfig::CJSON)
