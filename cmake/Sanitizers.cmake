# AddressSanitizer + UndefinedBehaviorSanitizer, switched on by MAILSEAL_SANITIZE.
if(MAILSEAL_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=undefined
           -fno-omit-frame-pointer)
  add_compile_options(${_san} -g)
  add_link_options(${_san})
endif()
