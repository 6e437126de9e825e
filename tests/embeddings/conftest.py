"""Fixtures for the embeddings tests: a generated cosmetics catalogue with Vietnamese text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

CATEGORIES = {
    "Sữa rửa mặt": "làm sạch sâu lỗ chân lông, tạo bọt mịn, loại bỏ bụi bẩn và dầu thừa",
    "Kem chống nắng": "chống tia UV, SPF 50 PA++++, bảo vệ da dưới ánh nắng mặt trời, không bết dính",
    "Son môi": "màu son lì mịn môi, lên màu chuẩn, giữ màu lâu trôi, son đỏ cam hồng",
    "Nước tẩy trang": "tẩy trang micellar, làm sạch lớp trang điểm và kem chống nắng, dịu nhẹ",
    "Serum": "tinh chất vitamin C niacinamide, làm sáng da, mờ thâm nám, cấp ẩm chuyên sâu",
    "Mặt nạ": "mặt nạ giấy dưỡng ẩm, đắp 15 phút, làm dịu và phục hồi da mệt mỏi",
}
BRANDS = ["La Roche-Posay", "Cetaphil", "Innisfree", "Cocoon", "Bioderma", "Some By Mi"]
SKIN_TYPES = ["da dầu", "da khô", "da hỗn hợp", "da nhạy cảm", "mọi loại da"]
FILLER = ["sản phẩm chính hãng", "phù hợp sử dụng hằng ngày", "dung tích tiện lợi", "được nhiều khách hàng yêu thích",
          "an toàn cho da", "xuất xứ rõ ràng"]


def generate_catalogue(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """``n`` products spread over the categories and brands; text shares category and brand words."""
    rng = np.random.default_rng(seed)
    rows = []
    names = list(CATEGORIES)
    for i in range(n):
        category = names[i % len(names)]
        brand = BRANDS[rng.integers(len(BRANDS))]
        skin = SKIN_TYPES[rng.integers(len(SKIN_TYPES))]
        filler = ", ".join(rng.choice(FILLER, size=2, replace=False))
        variant = rng.choice(["mini", "cao cấp", "dịu nhẹ", "tự nhiên"])
        rows.append({
            "product_id": 1000 + i,
            "name": f"{category} {brand} {variant} {50 + 10 * (i % 7)}ml",
            "brand": brand,
            "category": category,
            "price": float(rng.integers(80, 900) * 1000),
            "skin_type": skin,
            "description": f"{CATEGORIES[category]}. {filler}.",
            "avg_rating": float(rng.uniform(3.5, 5)),
            "num_ratings": int(rng.integers(0, 500)),
        })
    return pd.DataFrame(rows)


@pytest.fixture
def catalogue() -> pd.DataFrame:
    """A 240-product generated catalogue (6 categories × 6 brands)."""
    return generate_catalogue()
