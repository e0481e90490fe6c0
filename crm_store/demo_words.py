"""Word lists and note templates for the demo data set written by `crm_store.demo`."""

from __future__ import annotations

from typing import NamedTuple

# Common surnames, most frequent first (the generator weights them by rank).
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严覃武戴莫孔向汤"
)
# Given names by gender (True = male): (one-character names, two-character names).
GIVEN: dict[bool, tuple[tuple[str, ...], tuple[str, ...]]] = {
    True: (
        tuple("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁浩峰亮"),
        tuple(
            [
                "建国",
                "建华",
                "国强",
                "志强",
                "志明",
                "海涛",
                "文博",
                "子轩",
                "宇航",
                "俊杰",
                "家豪",
                "晓东",
                "永刚",
                "振华",
                "立新",
                "德明",
                "建军",
                "宏伟",
                "浩然",
                "天宇",
                "晨阳",
                "嘉诚",
                "思远",
                "一鸣",
                "正阳",
                "卫东",
                "春生",
                "明轩",
                "伟民",
                "国华",
                "宏亮",
                "文杰",
                "志刚",
                "永强",
                "海波",
                "建平",
                "晓峰",
                "俊峰",
            ]
        ),
    ),
    False: (
        tuple("芳娜敏静丽艳娟霞燕玲婷雪琳颖倩洁萍红莉璐"),
        tuple(
            [
                "欣怡",
                "秀英",
                "桂英",
                "玉兰",
                "淑珍",
                "美玲",
                "晓燕",
                "雅婷",
                "诗涵",
                "梓涵",
                "雨萱",
                "佳怡",
                "梦瑶",
                "海燕",
                "春梅",
                "秀兰",
                "慧敏",
                "思琪",
                "婉清",
                "文静",
                "若曦",
                "凤英",
                "丹丹",
                "佳琪",
                "欣然",
                "玉梅",
                "秀珍",
                "丽娟",
                "晓红",
                "雪梅",
                "美华",
                "素芬",
                "静怡",
                "悦然",
                "慧琳",
                "晓丽",
                "红梅",
                "亚楠",
            ]
        ),
    ),
}
SH_AREAS = tuple(
    [
        "310101",
        "310104",
        "310105",
        "310106",
        "310107",
        "310109",
        "310110",
        "310112",
        "310113",
        "310115",
    ]
)
OTHER_AREAS = tuple(
    [
        "320102",
        "320505",
        "330102",
        "330106",
        "340104",
        "350203",
        "370102",
        "410105",
        "420106",
        "430104",
        "440106",
        "510107",
        "610113",
        "110105",
        "120101",
        "210102",
        "230103",
        "360102",
        "130102",
        "140105",
        "220102",
        "450103",
        "500103",
    ]
)
PHONE_PREFIXES = tuple(
    [
        "130",
        "131",
        "132",
        "133",
        "135",
        "136",
        "137",
        "138",
        "139",
        "150",
        "151",
        "152",
        "153",
        "155",
        "156",
        "157",
        "158",
        "159",
        "166",
        "173",
        "177",
        "180",
        "181",
        "182",
        "183",
        "185",
        "186",
        "187",
        "188",
        "189",
        "191",
        "198",
        "199",
    ]
)
TAGS = (
    "退休",
    "关注养老",
    "有房贷",
    "企业主",
    "偏好稳健",
    "子女教育",
    "关注基金",
    "手机银行用户",
    "关注外汇",
    "代发工资",
)

TIME_DEPOSITS: tuple[tuple[int, str], ...] = ((3, "稳盈3个月定期存款"), (6, "稳盈6个月定期存款"))
TIME_DEPOSITS += (
    (12, "整存整取1年定期存款"),
    (24, "整存整取2年定期存款"),
    (36, "整存整取3年定期存款"),
)
# (term in months, name); 0 months = open-ended, no maturity date.
WEALTH: tuple[tuple[int, str], ...] = (
    (1, "月月享30天理财"),
    (3, "季季盈90天理财"),
    (6, "安心180天理财"),
)
WEALTH += ((12, "年年丰1年期理财"), (0, "天天利理财"))
FUNDS = (
    "易方达蓝筹精选混合",
    "招商中证白酒指数",
    "华夏沪深300ETF联接",
    "南方中证500ETF联接",
    "富国天惠成长混合",
    "广发稳健增长混合",
    "中欧医疗健康混合",
    "兴全合润混合",
    "交银新成长混合",
)
INSURANCE: tuple[str, ...] = (
    "平安福终身寿险",
    "国寿鑫享年金保险",
    "太平洋金佑人生终身寿险",
    "泰康健康尊享医疗险",
)
INSURANCE += ("中国人寿鑫福年年年金险", "平安御享金越养老年金险")
COMPETITORS = ("招商银行", "工商银行", "建设银行", "兴业银行", "宁波银行", "网商银行", "浦发银行")
MOBILE_ISSUES = (
    "转账限额太低",
    "登录时人脸识别总是失败",
    "收不到短信验证码",
    "升级后频繁闪退",
    "找不到理财产品入口",
    "转账到账慢",
    "字太小、老人看不清",
)
INTERESTS = ("基金定投", "养老理财", "大额存单", "子女教育金", "美元存款", "保险配置")
KIDS = ("儿子", "女儿")

CHANNELS = ("phone", "visit", "wechat")
CHANNEL_WEIGHTS = (45, 25, 30)
OPENINGS = {
    "phone": ("电话回访{who}", "致电{who}", "与{who}电话沟通"),
    "visit": ("{who}来网点面谈", "网点面谈{who}", "上门拜访{who}"),
    "wechat": ("微信沟通{who}", "企业微信联系{who}"),
}
FOLLOWUP_TAILS = ("约{m}月{d}日再联系。", "{m}月{d}日前回电确认。", "计划{m}月{d}日再跟进。")

# Topic -> (weight for a random note, templates). Slots are filled by `crm_store.demo`.
TOPICS: dict[str, tuple[int, tuple[str, ...]]] = {
    "cd_renewal": (
        16,
        (
            "客户名下{cdamt}万大额存单即将到期，有意续存，但提到{bank}三年期大额存单利率{crate}%，"
            "比我行高，希望我行给个优惠利率。",
            "关于大额存单到期续存，建议续存我行{term}大额存单，年利率{rate}%，客户表示考虑一下，"
            "可能拿一部分买理财。",
            "提醒客户大额存单下月到期，客户同意到期后转存{term}大额存单，金额约{cdamt}万。",
        ),
    ),
    "fund": (
        14,
        (
            "客户对基金定投感兴趣，介绍了{fund}，建议每月定投{small}元，客户担心市场波动，"
            "先小额试试。",
            "客户关注基金，询问{fund}近一年收益和最大回撤，已发送产品资料，风险等级可匹配。",
            "客户已开通{fund}基金定投，每月{small}元，本次回访扣款情况，客户满意。",
            "客户持有的{fund}浮亏约{pct}%，有些焦虑，解释了基金定投摊薄成本的逻辑，建议继续持有。",
        ),
    ),
    "wm_redeem": (
        10,
        (
            "客户要求赎回{wm}约{amt}万，家里装修要用钱，已指导客户在手机银行操作理财赎回。",
            "客户咨询理财产品赎回到账时间，说明{wm}赎回T+1到账，客户接受。",
            "客户对{wm}收益不满意（年化只有{wrate}%），打算赎回转去{bank}，已介绍我行同期限产品挽留。",
        ),
    ),
    "pension": (
        10,
        (
            "和客户聊养老规划，客户快退休了，介绍了个人养老金账户和养老理财，客户有兴趣开户。",
            "聊到养老规划，客户担心退休后收入下降，建议配置{pension}，并开立个人养老金账户每年缴存抵税。",
            "客户咨询个人养老金账户开户和每年缴存上限，已说明可税前扣除，客户准备本月开户。",
        ),
    ),
    "education": (
        8,
        (
            "客户{kid}今年{kid_age}岁，想提前准备子女教育金，推荐了教育年金保险加基金定投组合。",
            "子女教育金规划方面，客户计划送{kid}出国读书，预计需要{edu}万，建议分批配置大额存单和稳健理财。",
        ),
    ),
    "mortgage": (
        8,
        (
            "客户想提前还房贷{amt}万，咨询违约金和流程，已告知需在手机银行预约提前还款，"
            "客户对比了{bank}的房贷利率{lrate}%。",
            "客户咨询房贷利率调整和提前还款，测算提前还款{amt}万可节省利息约{save}万，"
            "客户倾向部分提前还款、缩短年限。",
        ),
    ),
    "mobile": (
        12,
        (
            "客户抱怨手机银行{issue}，情绪较大，已记录并反馈网点运营，承诺三个工作日内回复。",
            "协助客户处理手机银行{issue}的问题，远程指导后已解决，客户对新版手机银行不太习惯。",
            "客户投诉手机银行{issue}，说再不改进就把资金转到{bank}，已致歉并上报投诉。",
        ),
    ),
    "insurance": (
        8,
        (
            "和客户讨论家庭保险配置，客户目前只有社保，推荐了{ins}，客户要回去和家人商量。",
            "保险配置方面，客户已有{ins}，询问是否需要补充重疾险，做了家庭保障缺口分析。",
            "客户咨询{ins}的现金价值和退保损失，解释了前几年退保不划算，客户决定继续持有。",
        ),
    ),
    "fx": (
        6,
        (
            "客户{kid}明年出国留学，咨询购汇额度（每人每年5万美元）和美元定期利率，建议分批购汇。",
            "外汇方面，客户关注人民币汇率走势，咨询美元存款利率，介绍了我行美元定期，年利率约{usd}%。",
            "客户有一笔美元想结汇，询问汇率，建议关注中间价后分批结汇。",
        ),
    ),
    "prospect": (
        0,
        (
            "客户第一次来我行，介绍了{wm}和大额存单，客户资金目前主要在{bank}，愿意先转入一部分试试。",
            "潜在客户，朋友介绍，关心存款利率，对比了{bank}的{crate}%，留了产品资料。",
        ),
    ),
    "birthday": (
        0,
        (
            "生日问候，给客户送上生日祝福，客户很开心，顺便聊了近期资金安排。",
            "客户生日，送去网点准备的生日礼品，客户表示感谢。",
            "生日问候，客户回复感谢，提到最近在关注{interest}。",
        ),
    ),
}
TAG_TOPICS = {"有房贷": "mortgage", "子女教育": "education", "关注基金": "fund"}
TAG_TOPICS |= {"关注养老": "pension", "退休": "pension", "关注外汇": "fx"}
TAG_TOPICS |= {"手机银行用户": "mobile", "偏好稳健": "cd_renewal"}

# The organisation: branch_id, name, parent_id.
BRANCHES: tuple[tuple[str, str, str], ...] = (
    ("B001", "上海分行", ""),
    ("B002", "陆家嘴支行", "B001"),
    ("B003", "徐汇支行", "B001"),
)
BRANCHES += (("B004", "静安支行", "B001"), ("B005", "静安寺社区支行", "B004"))
# staff_id, name, role, branch_id, team_id, wecom_userid, telegram_user_id, active
STAFF = (
    ("S001", "李娜", "rm", "B002", "T01", "lina", "5210000001", "true"),
    ("S002", "陈静", "rm", "B002", "T01", "chenjing", "", "true"),
    ("S003", "王磊", "rm", "B003", "T02", "wanglei", "5210000003", "true"),
    ("S004", "刘洋", "rm", "B003", "T02", "liuyang", "", "true"),
    ("S005", "赵敏", "rm", "B004", "T03", "zhaomin", "5210000005", "true"),
    ("S006", "孙浩", "rm", "B005", "T03", "sunhao", "", "true"),
    ("S007", "周强", "rm", "B002", "T01", "zhouqiang", "", "false"),
    ("S008", "吴婷", "team_lead", "B002", "T01", "wuting", "5210000008", "true"),
    ("S009", "郑凯", "team_lead", "B003", "T02", "zhengkai", "", "true"),
    ("S010", "黄建国", "branch_head", "B001", "", "huangjianguo", "5210000010", "true"),
    ("S011", "林慧", "branch_head", "B004", "", "linhui", "", "true"),
    ("S012", "何雪", "compliance", "B001", "", "hexue", "", "true"),
    ("S013", "马骏", "admin", "B001", "", "majun", "", "true"),
)
# How many customers each staff member owns (300 in all).
OWNER_QUOTA = {"S001": 40, "S002": 48, "S003": 48, "S004": 48, "S005": 48, "S006": 48}
OWNER_QUOTA |= {"S008": 7, "S009": 7, "S007": 6}

# Note slots filled by a random pick, and rates (%) drawn from a range.
SLOT_CHOICES: dict[str, tuple[object, ...]] = {
    "bank": COMPETITORS,
    "term": ("一年期", "两年期", "三年期"),
    "fund": FUNDS,
    "small": (500, 1000, 2000, 3000, 5000),
    "wm": tuple(name for _, name in WEALTH),
    "pension": ("养老年金保险", "养老理财产品", "国寿鑫享年金保险"),
    "kid": KIDS,
    "edu": (50, 80, 100, 150, 200),
    "issue": MOBILE_ISSUES,
    "ins": INSURANCE,
    "interest": INTERESTS,
}
SLOT_RATES = {"rate": (1.2, 1.8), "crate": (1.8, 2.35), "wrate": (1.6, 2.4)}
SLOT_RATES |= {"lrate": (2.9, 3.5), "usd": (3.0, 4.2)}


class Profile(NamedTuple):
    """How customers of one segment are drawn."""

    share: int  # % of customers
    birth_years: tuple[int, int]
    risk_weights: tuple[int, int, int, int, int]  # C1..C5
    holdings: tuple[int, int]  # asset holdings per customer (loans come on top)
    notes: tuple[int, int]  # interactions in the last 12 months


PROFILES = {
    "vip": Profile(15, (1952, 1986), (5, 25, 40, 22, 8), (3, 5), (8, 16)),
    "regular": Profile(65, (1950, 2002), (15, 35, 35, 12, 3), (1, 3), (3, 9)),
    "prospect": Profile(20, (1962, 2004), (30, 40, 20, 8, 2), (0, 1), (1, 5)),
}
