"""Request and response bodies of the HTTP API (validated by pydantic; unknown fields are refused)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recsys.service.serving import ItemFilter

INT64_MAX = 2**63 - 1
UserId = Field(..., ge=0, le=INT64_MAX, description="Raw user id (a non-negative 64-bit integer).")
_TEXT = {"min_length": 1, "max_length": 200}
_MONEY = {"ge": 0, "le": 1e12, "allow_inf_nan": False}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FilterParams(_Strict):
    """Restrictions on recommended products; omitted fields do not restrict."""

    category: str | None = Field(None, **_TEXT, description="Product category (case-insensitive).")
    brand: str | None = Field(None, **_TEXT, description="Brand (case-insensitive).")
    price_min: float | None = Field(None, **_MONEY, description="Lowest price, inclusive.")
    price_max: float | None = Field(None, **_MONEY, description="Highest price, inclusive.")
    min_rating: float | None = Field(None, ge=1, le=5, allow_inf_nan=False, description="Lowest average rating.")

    @model_validator(mode="after")
    def _price_range(self) -> FilterParams:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError("price_min must not exceed price_max")
        return self

    def to_filter(self) -> ItemFilter:
        """The serving-layer filter."""
        return ItemFilter(self.category, self.brand, self.price_min, self.price_max, self.min_rating)


class RecommendRequest(_Strict):
    """``POST /recommend``."""

    user_id: int = UserId
    topk: int = Field(10, ge=1, le=100, description="How many products to return (1-100).")
    exclude_seen: bool = Field(True, description="Leave out products the user already interacted with.")
    filter_params: FilterParams | None = None
    rerank: bool = Field(False, description="Rerank CF candidates by content (needs an embeddings index).")


class RecommendedItem(BaseModel):
    """One recommended product."""

    product_id: int
    score: float
    rank: int


class RecommendResponse(BaseModel):
    """Answer of ``POST /recommend``."""

    user_id: int
    recommendations: list[RecommendedItem]
    count: int
    is_fallback: bool
    fallback_method: str | None
    latency_ms: float
    model_id: str | None
    model_version: str | None
    request_id: str
    reranked: bool = False


class FeedbackRequest(_Strict):
    """``POST /feedback``: what the user did with a recommendation."""

    request_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                                   description="The request_id of the recommendation, if known.")
    user_id: int = UserId
    product_id: int = Field(..., ge=0, le=INT64_MAX, description="Raw product id.")
    event: Literal["impression", "click", "purchase"]


class FeedbackResponse(BaseModel):
    """Answer of ``POST /feedback`` (the row is written within a second)."""

    status: Literal["accepted"]
    request_id: str


class ErrorResponse(BaseModel):
    """Body of a 5xx answer: no stack trace, only what the caller can quote."""

    detail: str
    request_id: str | None = None
