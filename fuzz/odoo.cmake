# The Odoo answer decoder's libFuzzer target. Included from fuzz/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/odoo.cmake)
# The decoder's sources are compiled into the target itself (not taken from
# odoosync_common), so they get libFuzzer's coverage instrumentation.
# Run: build/fuzz/fuzz_odoo_response -max_total_time=60 fuzz/corpus/odoo
add_executable(fuzz_odoo_response
  ${CMAKE_SOURCE_DIR}/fuzz/fuzz_odoo_response.c
  ${CMAKE_SOURCE_DIR}/common/odoo_decode.c
  ${CMAKE_SOURCE_DIR}/common/err.c)
target_include_directories(fuzz_odoo_response PRIVATE ${CMAKE_SOURCE_DIR}/common)
target_compile_options(fuzz_odoo_response PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_options(fuzz_odoo_response PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_libraries(fuzz_odoo_response PRIVATE odoosync_warnings PkgConfig::CJSON)
