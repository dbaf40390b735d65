"""Sample documents the tests sign and verify: one-page PDFs (a minimal one written by
hand, a blank one written by pyHanko, and an update of it no signature allows) and an
edXML package (QCVN 102:2016) carrying a PDF as an attachment."""

from __future__ import annotations

import base64
import os
from io import BytesIO

# A minimal but well-formed PDF, carried base64 as edXML attachments are.
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
PDF_B64 = base64.b64encode(PDF + os.urandom(3000)).decode()
PDF_LINES = "\n".join(PDF_B64[i:i + 76] for i in range(0, len(PDF_B64), 76))

EDXML = f"""<?xml version="1.0" encoding="UTF-8"?>
<edXML:edXML xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXML:edXMLEnvelope>
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From>
          <edXML:OrganId>000.00.00.H13</edXML:OrganId>
          <edXML:OrganName>Ủy ban nhân dân thành phố Cần Thơ</edXML:OrganName>
          <edXML:OrganAdd>Số 2 Hòa Bình, phường Ninh Kiều, thành phố Cần Thơ</edXML:OrganAdd>
          <edXML:Email>ubnd@cantho.gov.vn</edXML:Email>
        </edXML:From>
        <edXML:To>
          <edXML:OrganId>000.00.00.G22</edXML:OrganId>
          <edXML:OrganName>Văn phòng Chính phủ</edXML:OrganName>
        </edXML:To>
        <edXML:DocumentId>000.00.00.H13,2025/07/01,125/UBND-VP</edXML:DocumentId>
        <edXML:Code>
          <edXML:CodeNumber>125</edXML:CodeNumber>
          <edXML:CodeNotation>UBND-VP</edXML:CodeNotation>
        </edXML:Code>
        <edXML:PromulgationInfo>
          <edXML:Place>Cần Thơ</edXML:Place>
          <edXML:PromulgationDate>2025-07-01</edXML:PromulgationDate>
        </edXML:PromulgationInfo>
        <edXML:DocumentType>
          <edXML:Type>1</edXML:Type>
          <edXML:TypeName>Công văn</edXML:TypeName>
        </edXML:DocumentType>
        <edXML:Subject>Về việc triển khai sắp xếp đơn vị hành chính cấp xã</edXML:Subject>
        <edXML:SignerInfo>
          <edXML:Competence>TM. Ủy ban nhân dân</edXML:Competence>
          <edXML:Position>Chủ tịch</edXML:Position>
          <edXML:FullName>Trần Văn Thử</edXML:FullName>
        </edXML:SignerInfo>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList>
        <edXML:TraceHeader>
          <edXML:OrganId>000.00.00.H13</edXML:OrganId>
          <edXML:Timestamp>2025-07-01T09:15:30+07:00</edXML:Timestamp>
        </edXML:TraceHeader>
      </edXML:TraceHeaderList>
    </edXML:edXMLHeader>
    <edXML:edXMLBody>
      <edXML:edXMLManifest>
        <edXML:Reference>
          <edXML:ContentId>cid:125-UBND-VP.pdf</edXML:ContentId>
          <edXML:ContentType>application/pdf</edXML:ContentType>
          <edXML:Description>Công văn số 125/UBND-VP</edXML:Description>
        </edXML:Reference>
      </edXML:edXMLManifest>
    </edXML:edXMLBody>
  </edXML:edXMLEnvelope>
  <edXML:AttachmentEncoded>
    <edXML:Attachment>
      <edXML:ContentId>cid:125-UBND-VP.pdf</edXML:ContentId>
      <edXML:AttachmentName>125-UBND-VP.pdf</edXML:AttachmentName>
      <edXML:ContentType>application/pdf</edXML:ContentType>
      <edXML:Value>
{PDF_LINES}
      </edXML:Value>
    </edXML:Attachment>
  </edXML:AttachmentEncoded>
</edXML:edXML>
"""


def blank_pdf() -> bytes:
    """A blank A4 page, written by pyHanko."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    w = PdfFileWriter()
    w.insert_page(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(n) for n in (0, 0, 595, 842)]),
    }))
    buf = BytesIO()
    w.write(buf)
    return buf.getvalue()


def rewrite_page(pdf: bytes) -> bytes:
    """An incremental update replacing page 1's content: what no signature allows."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(BytesIO(pdf))
    page = w.root["/Pages"].raw_get("/Kids")[0].get_object()
    page[generic.NameObject("/Contents")] = w.add_object(
        generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 700 Td (X) Tj ET"))
    w.update_container(page)
    out = BytesIO()
    w.write(out)
    return out.getvalue()
