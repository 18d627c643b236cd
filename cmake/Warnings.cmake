function(sq_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra> $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra>)
  if(SQ_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror> $<$<COMPILE_LANGUAGE:C>:-Werror>)
  endif()
endfunction()

if(SQ_SANITIZE)
  add_compile_options(-fsanitize=${SQ_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${SQ_SANITIZE})
  # GCC 12 reports false "maybe-uninitialized" warnings inside libstdc++ (std::function, <regex>) when
  # sanitizer instrumentation changes inlining; they are not in our code and would fail -Werror.
  add_compile_options($<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
endif()
