"""A generated Vietnamese cosmetics catalogue: brands, categories, prices in VND, skin types, descriptions.

Descriptions are built from category, ingredient, skin-type and brand phrases, so products that share a
category or a brand share much of their text (the content-similarity features rely on that).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.data import schema as s

# (name, country of origin, price tier 0=budget 1=mid 2=premium)
BRANDS: tuple[tuple[str, str, int], ...] = (
    ("Cocoon", "Việt Nam", 0), ("Thorakao", "Việt Nam", 0), ("Senka", "Nhật Bản", 0),
    ("Hada Labo", "Nhật Bản", 0), ("Simple", "Anh", 0), ("Garnier", "Pháp", 0), ("Pond's", "Mỹ", 0),
    ("Maybelline", "Mỹ", 0), ("Black Rouge", "Hàn Quốc", 0), ("Sunplay", "Nhật Bản", 0),
    ("Acnes", "Nhật Bản", 0), ("Bioré", "Nhật Bản", 0), ("Rohto Melano CC", "Nhật Bản", 0),
    ("La Roche-Posay", "Pháp", 1), ("Bioderma", "Pháp", 1), ("CeraVe", "Mỹ", 1), ("Cetaphil", "Mỹ", 1),
    ("Innisfree", "Hàn Quốc", 1), ("Some By Mi", "Hàn Quốc", 1), ("The Ordinary", "Canada", 1),
    ("Klairs", "Hàn Quốc", 1), ("Skin1004", "Hàn Quốc", 1), ("Romand", "Hàn Quốc", 1), ("3CE", "Hàn Quốc", 1),
    ("Eucerin", "Đức", 1), ("Vichy", "Pháp", 1), ("Cosrx", "Hàn Quốc", 1), ("Anessa", "Nhật Bản", 1),
    ("L'Oréal", "Pháp", 1), ("Laneige", "Hàn Quốc", 1),
    ("Paula's Choice", "Mỹ", 2), ("Kiehl's", "Mỹ", 2), ("Estée Lauder", "Mỹ", 2), ("Shiseido", "Nhật Bản", 2),
    ("Sulwhasoo", "Hàn Quốc", 2), ("Clinique", "Mỹ", 2), ("MAC", "Canada", 2), ("Obagi", "Mỹ", 2),
    ("SK-II", "Nhật Bản", 2), ("Lancôme", "Pháp", 2),
)
TIER_PRICE_FACTOR = (0.6, 1.0, 2.4)
TIER_TRAIT = (
    "giá thành hợp lý, dễ mua và phù hợp cho học sinh, sinh viên",
    "công thức lành tính được các bác sĩ da liễu khuyên dùng",
    "công nghệ cao cấp và trải nghiệm sang trọng",
)


@dataclass(frozen=True)
class Category:
    """One product category: base price (VND), pack sizes, catalogue weight and its description phrases."""

    name: str
    base_price: float
    sizes: tuple[str, ...]
    weight: float
    purpose: tuple[str, ...]
    usage: str
    any_skin: bool = False  # makeup for lips: skin type does not apply


CATEGORIES: tuple[Category, ...] = (
    Category("Sữa rửa mặt", 180_000, ("100ml", "150ml", "200ml"), 1.4, (
        "làm sạch sâu bụi bẩn, bã nhờn và cặn trang điểm mà không gây khô căng da",
        "tạo bọt mịn nhẹ nhàng, làm sạch lỗ chân lông và giữ ẩm tự nhiên cho da"),
        "Dùng sáng và tối: tạo bọt với nước, massage nhẹ nhàng rồi rửa sạch."),
    Category("Kem chống nắng", 280_000, ("50ml", "60ml", "90ml"), 1.3, (
        "bảo vệ da khỏi tia UVA, UVB với chỉ số SPF50+ PA++++, chất kem mỏng nhẹ không bết dính",
        "chống nắng phổ rộng, nâng tông nhẹ và không để lại vệt trắng trên da"),
        "Thoa đều lên mặt 15 phút trước khi ra nắng, thoa lại sau mỗi 2 đến 3 giờ."),
    Category("Serum", 350_000, ("30ml", "50ml"), 1.2, (
        "cô đặc dưỡng chất thẩm thấu nhanh, giúp làm sáng da và mờ thâm",
        "phục hồi hàng rào bảo vệ da, cải thiện kết cấu da sau 4 tuần sử dụng"),
        "Sau bước toner, lấy 2 đến 3 giọt thoa đều và vỗ nhẹ cho thẩm thấu."),
    Category("Toner", 250_000, ("150ml", "200ml", "250ml"), 1.0, (
        "cân bằng độ pH, cấp ẩm tức thì và làm dịu da sau khi rửa mặt",
        "làm sạch lớp cặn còn sót lại, se khít lỗ chân lông và chuẩn bị cho các bước dưỡng sau"),
        "Cho ra bông tẩy trang lau nhẹ hoặc vỗ trực tiếp lên mặt sau khi rửa mặt."),
    Category("Son môi", 250_000, ("3.5g", "4g"), 0.9, (
        "lên màu chuẩn, mịn mượt và giữ màu lâu suốt cả ngày",
        "chất son mềm mịn, dưỡng ẩm cho đôi môi căng mọng, không gây khô môi"),
        "Thoa trực tiếp lên môi, có thể tán nhẹ bằng đầu ngón tay để tạo hiệu ứng môi tự nhiên.",
        any_skin=True),
    Category("Kem dưỡng ẩm", 320_000, ("50ml", "80ml"), 1.1, (
        "cấp ẩm sâu và khóa ẩm suốt 24 giờ, giúp da mềm mại, căng mướt",
        "chất kem nhẹ thấm nhanh, nuôi dưỡng và phục hồi làn da khô ráp"),
        "Dùng ở bước cuối chu trình dưỡng da buổi sáng và buổi tối."),
    Category("Mặt nạ", 40_000, ("1 miếng", "25ml", "100ml"), 0.8, (
        "cấp nước tức thì, làm dịu và mang lại làn da tươi sáng chỉ sau 15 phút",
        "bổ sung dưỡng chất chuyên sâu, giúp da săn chắc và rạng rỡ"),
        "Đắp lên da sạch 15 đến 20 phút, 2 đến 3 lần mỗi tuần."),
    Category("Nước tẩy trang", 200_000, ("240ml", "400ml", "500ml"), 1.0, (
        "công nghệ micellar làm sạch lớp trang điểm và kem chống nắng chỉ trong một bước",
        "tẩy trang dịu nhẹ, không cồn, không gây kích ứng và không cần rửa lại"),
        "Thấm ra bông tẩy trang, áp nhẹ lên da vài giây rồi lau sạch."),
    Category("Tẩy tế bào chết", 200_000, ("100ml", "118ml", "150g"), 0.6, (
        "loại bỏ tế bào chết, thông thoáng lỗ chân lông và làm đều màu da",
        "tẩy da chết hóa học dịu nhẹ, giúp da mịn màng và hấp thụ dưỡng chất tốt hơn"),
        "Dùng 2 đến 3 lần mỗi tuần vào buổi tối, tránh vùng mắt."),
    Category("Kem mắt", 450_000, ("15ml", "20ml"), 0.5, (
        "giảm quầng thâm, bọng mắt và làm mờ nếp nhăn vùng da quanh mắt",
        "dưỡng ẩm và làm săn chắc vùng da mỏng manh quanh mắt"),
        "Lấy một lượng nhỏ, vỗ nhẹ quanh vùng mắt bằng ngón áp út."),
    Category("Xịt khoáng", 220_000, ("150ml", "300ml"), 0.5, (
        "cấp nước và làm dịu da tức thì, giúp lớp trang điểm tươi tắn hơn",
        "bổ sung khoáng chất, làm mát và bảo vệ da trước tác động của môi trường"),
        "Xịt cách mặt 20cm bất cứ khi nào da cần được cấp ẩm."),
    Category("Kem nền", 380_000, ("30ml", "35ml"), 0.7, (
        "che phủ tốt các khuyết điểm, lớp nền mỏng nhẹ tự nhiên và lâu trôi",
        "kiềm dầu, giữ lớp nền mịn lì suốt 12 giờ mà không gây bí da"),
        "Chấm kem nền lên mặt rồi tán đều bằng mút hoặc cọ trang điểm."),
)

# (skin type, phrase)
SKIN_TYPES: tuple[tuple[str, str], ...] = (
    ("da dầu", "Sản phẩm phù hợp với da dầu, giúp kiểm soát bã nhờn và hạn chế bóng dầu suốt ngày dài."),
    ("da khô", "Sản phẩm phù hợp với da khô, bổ sung độ ẩm và giảm tình trạng bong tróc, thô ráp."),
    ("da hỗn hợp", "Sản phẩm phù hợp với da hỗn hợp, cân bằng vùng chữ T nhiều dầu và hai má khô."),
    ("da nhạy cảm", "Sản phẩm phù hợp với da nhạy cảm, không hương liệu, không cồn, hạn chế kích ứng."),
    ("da mụn", "Sản phẩm phù hợp với da mụn, giúp giảm viêm, ngăn ngừa mụn và mờ thâm sau mụn."),
    ("mọi loại da", "Sản phẩm phù hợp với mọi loại da, kể cả làn da nhạy cảm."),
)
ANY_SKIN = len(SKIN_TYPES) - 1

# (ingredient, what it does)
INGREDIENTS: tuple[tuple[str, str], ...] = (
    ("Trà Xanh", "chống oxy hóa và kiểm soát dầu"), ("Rau Má", "làm dịu và phục hồi da"),
    ("Bí Đao", "giảm mụn và se khít lỗ chân lông"), ("Niacinamide", "làm sáng da và mờ thâm"),
    ("Vitamin C", "làm sáng da và chống oxy hóa"), ("Hyaluronic Acid", "cấp ẩm sâu và giữ nước cho da"),
    ("BHA", "làm sạch sâu lỗ chân lông và giảm mụn đầu đen"), ("Ceramide", "củng cố hàng rào bảo vệ da"),
    ("Nghệ Hưng Yên", "mờ thâm và làm đều màu da"), ("Hoa Hồng", "cấp ẩm và làm mềm da"),
    ("Tràm Trà", "kháng khuẩn và ngăn ngừa mụn"), ("Retinol", "chống lão hóa và làm mờ nếp nhăn"),
    ("Collagen", "tăng độ đàn hồi và săn chắc da"), ("Cà Phê Đắk Lắk", "tẩy tế bào chết và làm sáng da"),
    ("Panthenol", "làm dịu và phục hồi da tổn thương"), ("Peptide", "chống lão hóa và nâng cơ"),
)
LINES = ("", "Intensive", "Gentle", "Daily", "Pro", "Plus", "Advanced", "Mild", "Bright", "Hydra")


@dataclass(frozen=True)
class ClusterProfile:
    """What one taste cluster buys: a skin type, a price tier, a few brands and a few categories."""

    skin_type: int
    brands: np.ndarray
    categories: np.ndarray


def make_cluster_profiles(rng: np.random.Generator, n_clusters: int) -> list[ClusterProfile]:
    """Random but seeded profiles; clusters cycle through skin types so each appears."""
    tiers = np.array([tier for _, _, tier in BRANDS])
    category_p = _category_weights()
    profiles = []
    for k in range(n_clusters):
        tier = rng.choice(3, p=(0.45, 0.4, 0.15))
        brands = rng.choice(np.flatnonzero(tiers == tier), size=3, replace=False)
        categories = rng.choice(len(CATEGORIES), size=3, replace=False, p=category_p)
        profiles.append(ClusterProfile(k % (len(SKIN_TYPES) - 1), brands, categories))
    return profiles


def build_catalog(rng: np.random.Generator, clusters: np.ndarray, profiles: list[ClusterProfile],
                  first_id: int = 1) -> pd.DataFrame:
    """One product per entry of ``clusters`` (its taste cluster), with ids from ``first_id``."""
    n = len(clusters)
    skin = np.array([profiles[c].skin_type for c in clusters])
    brand = rng.integers(len(BRANDS), size=n)
    category = rng.choice(len(CATEGORIES), size=n, p=_category_weights())
    from_cluster = rng.random((3, n))
    pick_brand, pick_category = rng.integers(3, size=(2, n))
    own_brand = np.array([profiles[c].brands[i] for c, i in zip(clusters, pick_brand, strict=True)])
    own_category = np.array([profiles[c].categories[i] for c, i in zip(clusters, pick_category, strict=True)])
    skin = np.where(from_cluster[0] < 0.8, skin, rng.integers(len(SKIN_TYPES), size=n))
    brand = np.where(from_cluster[1] < 0.75, own_brand, brand)
    category = np.where(from_cluster[2] < 0.6, own_category, category)
    ingredient = rng.integers(len(INGREDIENTS), size=n)
    line = rng.integers(len(LINES), size=n)
    noise = rng.lognormal(0.0, 0.25, size=n)

    rows = []
    for i in range(n):
        cat, (brand_name, origin, tier) = CATEGORIES[category[i]], BRANDS[brand[i]]
        skin_i = ANY_SKIN if cat.any_skin else skin[i]
        ingredient_name, benefit = INGREDIENTS[ingredient[i]]
        size = cat.sizes[(i + ingredient[i]) % len(cat.sizes)]
        name = " ".join(part for part in (cat.name, brand_name, ingredient_name, LINES[line[i]], size) if part)
        price = round(cat.base_price * TIER_PRICE_FACTOR[tier] * noise[i] / 1000) * 1000
        description = " ".join((
            f"{cat.name} {brand_name} {cat.purpose[i % len(cat.purpose)]}.",
            f"Thành phần chứa {ingredient_name} giúp {benefit}.",
            SKIN_TYPES[skin_i][1],
            f"{brand_name} là thương hiệu đến từ {origin}, nổi tiếng với {TIER_TRAIT[tier]}.",
            cat.usage,
        ))
        rows.append((name, brand_name, cat.name, float(max(price, 1000)), SKIN_TYPES[skin_i][0], description))
    frame = pd.DataFrame(rows, columns=[s.NAME, s.BRAND, s.CATEGORY, s.PRICE, s.SKIN_TYPE, s.DESCRIPTION])
    frame.insert(0, s.PRODUCT_ID, np.arange(first_id, first_id + n, dtype=np.int64))
    return _unique_names(frame)


def _category_weights() -> np.ndarray:
    weights = np.array([cat.weight for cat in CATEGORIES])
    return weights / weights.sum()


def _unique_names(frame: pd.DataFrame) -> pd.DataFrame:
    """Real catalogues do not repeat a name: number the later copies of one."""
    copy = frame.groupby(s.NAME).cumcount()
    suffix = np.where(copy > 0, " - mẫu " + (copy + 1).astype(str), "")
    frame[s.NAME] = frame[s.NAME] + suffix
    return frame
