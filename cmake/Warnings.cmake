# Warning flags: each is checked before use; MAILSEAL_WERROR makes them fatal.
include(CheckCCompilerFlag)
set(_mailseal_warnings
    -Wall -Wextra -Wformat=2 -Wformat-security -Wshadow -Wpointer-arith
    -Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings -Wvla
    -Wlogical-op -Wduplicated-cond -Wnull-dereference -Wimplicit-fallthrough)
foreach(flag IN LISTS _mailseal_warnings)
  string(MAKE_C_IDENTIFIER "HAVE_WARN${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    add_compile_options(${flag})
  endif()
endforeach()
if(MAILSEAL_WERROR)
  add_compile_options(-Werror)
endif()
add_compile_options(-fstack-protector-strong)
if(NOT MAILSEAL_SANITIZE AND CMAKE_BUILD_TYPE MATCHES "Rel")
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()
