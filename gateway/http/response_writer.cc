#include "gateway/http/response_writer.h"

#include <string>

namespace portcullis::http {

void WriteSimpleResponse(ResponseWriter* writer, int status, std::string_view content_type,
                         std::string_view body, const HeaderList& extra_headers) {
  HeaderList headers = extra_headers;
  if (!content_type.empty()) headers.emplace_back("Content-Type", std::string(content_type));
  writer->WriteHead(status, headers, body.size());
  if (!body.empty()) writer->WriteBody(body);
  writer->Finish();
}

}  // namespace portcullis::http
