# cmake -DIN=page.html -DOUT=page.cpp -P embed_page.cmake: the page as rwkv::serve::kChatPage.
file(READ ${IN} _content)
string(FIND "${_content}" ")rwkvpage\"" _clash)
if(NOT _clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw string's closing delimiter")
endif()
file(WRITE ${OUT} "// Generated from chat_page.html by embed_page.cmake.\n#include \"serve/server.h\"\n\nnamespace rwkv::serve {\nconst char* const kChatPage = R\"rwkvpage(${_content})rwkvpage\";\n}\n")
