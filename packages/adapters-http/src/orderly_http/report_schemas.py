"""The JSON shapes of the sales reports (see :mod:`orderly_http.schemas` for the conventions)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from orderly_core.sales.model import summary_view
from orderly_core.sales.use_cases import SalesReport


class RevenueResource(BaseModel):
    model_config = ConfigDict(title="Revenue")

    currency: str = Field(examples=["EUR"])
    amount: int = Field(description="Minor units", examples=[125000])


class SkuSalesResource(BaseModel):
    model_config = ConfigDict(title="SkuSales")

    sku: str = Field(examples=["MUG-1"])
    units: int = Field(examples=[42])


class SalesDayResource(BaseModel):
    """One UTC day: the orders placed that day and paid, their revenue, the SKUs sold most."""

    model_config = ConfigDict(title="SalesDay")

    day: date
    orders: int
    revenue: list[RevenueResource] = Field(description="Per currency")
    top_skus: list[SkuSalesResource] = Field(description="Most units first (at most 10)")
    computed_at: datetime = Field(description="When the summary was made")


class SalesReportResource(BaseModel):
    # ``from`` is a keyword in Python: the field is ``from_``, written ``from``.
    model_config = ConfigDict(title="SalesReport", serialize_by_alias=True)

    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    days: list[SalesDayResource] = Field(
        description="The days summarised so far, oldest first; days not summarised are absent"
    )

    @classmethod
    def from_domain(cls, report: SalesReport) -> SalesReportResource:
        days = []
        for summary in report.days:
            view = summary_view(summary)
            days.append(
                SalesDayResource.model_construct(
                    day=summary.day,
                    orders=view["orders"],
                    revenue=[RevenueResource.model_construct(**r) for r in view["revenue"]],
                    top_skus=[SkuSalesResource.model_construct(**s) for s in view["top_skus"]],
                    computed_at=view["computed_at"],
                )
            )
        return cls.model_construct(from_=report.first, to=report.last, days=days)
