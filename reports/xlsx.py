"""The report as an Excel workbook: one sheet per table, shared by the web page and the CLI."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reports.statistics import Report, report_tables

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_HEADER_FILL = PatternFill("solid", fgColor="E6EBF2")


def file_name(report: Report) -> str:
    return f"bao-cao-{report.start:%Y%m%d}-{report.end:%Y%m%d}.xlsx"


def workbook_bytes(report: Report, centre_name: str = "") -> bytes:
    book = Workbook()
    book.remove(book.active)
    period = f"Từ ngày {report.start:%d/%m/%Y} đến ngày {report.end:%d/%m/%Y}"
    for table in report_tables(report):
        sheet = book.create_sheet(table.sheet)
        sheet.append([f"{table.title} — {centre_name}" if centre_name else table.title])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append([period])
        sheet.append([])
        sheet.append([column.header for column in table.columns])
        header_row = sheet.max_row
        for cell in sheet[header_row]:
            cell.font = Font(bold=True)
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for row in table.rows:
            sheet.append(list(row))
            for cell, column in zip(sheet[sheet.max_row], table.columns, strict=True):
                if isinstance(cell.value, float) or column.kind == "percent":
                    cell.number_format = "0.0%"
                elif isinstance(cell.value, dt.date):
                    cell.number_format = "dd/mm/yyyy"
                elif isinstance(cell.value, int):
                    cell.number_format = "#,##0"
        # The totals row, when there is one, reads as one.
        if table.rows and table.rows[-1][0] == "Tổng cộng":
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
        for index, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = column.width
        sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
