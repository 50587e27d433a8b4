package rule

import (
	"sort"
	"strings"
)

// The texts of the sector advisories in English, Urdu and Chinese. The Urdu and Chinese texts
// are our own translations and need review by native speakers and by the health and
// agriculture departments that send them (docs/advisories.md). In the texts, %LEVEL% becomes
// the level's name in the language and %CROP% the crop's.

// advisoryText is one advisory type's texts.
type advisoryText struct {
	headline, description map[string]string            // by language
	instruction           map[string]map[string]string // by audience, then language
	levels                map[string]map[string]string // level name → language → name
}

// audienceNames are the CAP <audience> of each dissemination audience, in English.
var audienceNames = map[string]string{
	"hospitals": "hospitals and their emergency departments", "clinics": "clinics and basic health units",
	"public": "the public", "schools": "schools", "farmers": "farmers",
}

var crops = map[string]map[string]string{
	"wheat": {"en": "wheat", "ur": "گندم", "zh": "小麦"}, "cotton": {"en": "cotton", "ur": "کپاس", "zh": "棉花"},
	"rice": {"en": "rice", "ur": "دھان", "zh": "水稻"},
}

var heatPublic = map[string]string{
	"en": "Drink water often, stay indoors or in the shade from 11:00 to 16:00, check on older neighbours and young children, and never leave anyone in a parked vehicle. Hot dry skin or confusion is heat stroke, an emergency: call 1122.",
	"ur": "بار بار پانی پیئیں، دن 11 سے 4 بجے تک گھر کے اندر یا سائے میں رہیں، بزرگ پڑوسیوں اور چھوٹے بچوں کا خیال رکھیں، اور کسی کو کھڑی گاڑی میں نہ چھوڑیں۔ گرم خشک جلد یا بے ہوشی لو لگنے کی علامت ہے، فوراً 1122 پر کال کریں۔",
	"zh": "请多喝水，11:00至16:00留在室内或阴凉处，照看年长邻居和幼儿，切勿将任何人留在停放的车内。皮肤干热或神志不清是中暑，属于急症：请拨打急救电话。",
}

var advisoryTexts = map[string]advisoryText{
	AdvisoryHeat: {
		headline: map[string]string{
			"en": "{{if .Cancel}}Heat advisory ended: {{.Station}}{{else}}Heat advisory, %LEVEL%: heat index {{.Quantity}} at {{.Station}}{{end}}",
			"ur": "{{if .Cancel}}{{.Station}}: گرمی کی ایڈوائزری ختم{{else}}گرمی کی ایڈوائزری، %LEVEL%: {{.Station}} پر ہیٹ انڈیکس {{.Quantity}}{{end}}",
			"zh": "{{if .Cancel}}{{.Station}}：高温提示解除{{else}}高温提示（%LEVEL%）：{{.Station}}酷热指数{{.Quantity}}{{end}}",
		},
		description: map[string]string{
			"en": "{{if .Cancel}}The heat index at {{.Station}} is {{.Quantity}} ({{.ObservedAt}}), below the advisory levels.{{else}}The heat index at {{.Station}} (air temperature and humidity together, NWS) reached {{.Quantity}} at {{.ObservedAt}}: %LEVEL%.{{end}}",
			"ur": "{{if .Cancel}}{{.Station}} پر ہیٹ انڈیکس {{.ObservedAt}} کو {{.Quantity}} ہے، ایڈوائزری کی حد سے کم۔{{else}}{{.Station}} پر ہیٹ انڈیکس (درجۂ حرارت اور نمی مل کر) {{.ObservedAt}} کو {{.Quantity}} تک پہنچ گیا: %LEVEL%۔{{end}}",
			"zh": "{{if .Cancel}}{{.Station}}于{{.ObservedAt}}的酷热指数为{{.Quantity}}，已低于提示等级。{{else}}{{.Station}}的酷热指数（气温与湿度综合）于{{.ObservedAt}}达到{{.Quantity}}：%LEVEL%。{{end}}",
		},
		instruction: map[string]map[string]string{
			"public": heatPublic,
			"hospitals": {
				"en": "Prepare for heat stroke and dehydration: a cooling area, ice packs and intravenous fluids ready in the emergency department, staff on call; keep wards cool and patients drinking.",
				"ur": "لو لگنے اور پانی کی کمی کے مریضوں کے لیے تیاری کریں: ایمرجنسی میں ٹھنڈا کرنے کی جگہ، برف کی تھیلیاں اور ڈرپ تیار رکھیں، عملہ بلانے پر موجود رہے؛ وارڈ ٹھنڈے رکھیں اور مریضوں کو پانی پلاتے رہیں۔",
				"zh": "请为中暑和脱水病人做好准备：急诊科备好降温区、冰袋和静脉补液，人员随时待命；保持病房凉爽，督促病人饮水。",
			},
			"clinics": {
				"en": "Expect heat exhaustion and dehydration: stock oral rehydration salts, tell outreach workers to advise older people, pregnant women and outdoor workers, and send heat stroke to hospital at once.",
				"ur": "گرمی سے نڈھال اور پانی کی کمی کے مریض متوقع ہیں: او آر ایس کا ذخیرہ رکھیں، لیڈی ہیلتھ ورکرز بزرگوں، حاملہ خواتین اور باہر کام کرنے والوں کو ہدایات دیں، اور لو لگنے کے مریض کو فوراً ہسپتال بھیجیں۔",
				"zh": "预计会有中暑衰竭和脱水病人：备足口服补液盐，请社区卫生人员提醒老人、孕妇和户外工作者，中暑病人立即转送医院。",
			},
		},
		levels: map[string]map[string]string{
			"Caution":         {"ur": "احتیاط", "zh": "注意"},
			"Extreme Caution": {"ur": "شدید احتیاط", "zh": "特别注意"},
			"Danger":          {"ur": "خطرہ", "zh": "危险"},
			"Extreme Danger":  {"ur": "شدید خطرہ", "zh": "极度危险"},
		},
	},
	"air-epa": airText("AQI (US EPA)", "اے کیو آئی (امریکی ای پی اے)", "空气质量指数（美国环保署）", map[string]map[string]string{
		"Unhealthy for Sensitive Groups": {"ur": "حساس افراد کے لیے مضر", "zh": "对敏感人群不健康"},
		"Unhealthy":                      {"ur": "مضر صحت", "zh": "不健康"},
		"Very Unhealthy":                 {"ur": "انتہائی مضر صحت", "zh": "非常不健康"},
		"Hazardous":                      {"ur": "خطرناک", "zh": "危险"},
	}),
	"air-hj633": airText("IAQI (HJ 633-2012)", "آئی اے کیو آئی (چین، HJ 633-2012)", "空气质量分指数（HJ 633-2012）", map[string]map[string]string{
		"Lightly Polluted":    {"ur": "ہلکی آلودگی", "zh": "轻度污染"},
		"Moderately Polluted": {"ur": "درمیانی آلودگی", "zh": "中度污染"},
		"Heavily Polluted":    {"ur": "شدید آلودگی", "zh": "重度污染"},
		"Severely Polluted":   {"ur": "انتہائی شدید آلودگی", "zh": "严重污染"},
	}),
	AdvisoryRainBeforeHarvest: {
		headline: map[string]string{
			"en": "{{if .Cancel}}Rain advisory for %CROP% ended: {{.Station}}{{else}}%LEVEL% before the %CROP% harvest: {{.Quantity}} in 24 hours at {{.Station}}{{end}}",
			"ur": "{{if .Cancel}}{{.Station}}: %CROP% کے لیے بارش کی ایڈوائزری ختم{{else}}%CROP% کی کٹائی سے پہلے %LEVEL%: {{.Station}} پر 24 گھنٹوں میں {{.Quantity}}{{end}}",
			"zh": "{{if .Cancel}}{{.Station}}：%CROP%降雨提示解除{{else}}%CROP%收获前%LEVEL%：{{.Station}} 24小时降雨{{.Quantity}}{{end}}",
		},
		description: map[string]string{
			"en": "{{.Station}} measured {{.Quantity}} of rain in the 24 hours to {{.ObservedAt}}{{if not .Cancel}}: %LEVEL%, in the %CROP% harvest season{{end}}.",
			"ur": "{{.Station}} پر {{.ObservedAt}} تک 24 گھنٹوں میں {{.Quantity}} بارش ریکارڈ ہوئی{{if not .Cancel}}: %LEVEL%، %CROP% کی کٹائی کے موسم میں{{end}}۔",
			"zh": "{{.Station}}截至{{.ObservedAt}}的24小时降雨量为{{.Quantity}}{{if not .Cancel}}：%LEVEL%，正值%CROP%收获季节{{end}}。",
		},
		instruction: map[string]map[string]string{"farmers": {
			"en": "Harvest ripe %CROP% now if the field allows, stack the cut crop on raised dry ground and cover it, clear the field drains, and put off irrigation and spraying.",
			"ur": "اگر کھیت اجازت دے تو پکی ہوئی %CROP% ابھی کاٹ لیں، کٹی فصل اونچی خشک جگہ پر ڈھیر کر کے ڈھانپ دیں، کھیت کے نالے صاف کریں، اور آبپاشی اور سپرے مؤخر کریں۔",
			"zh": "如田间条件允许，请立即收割成熟的%CROP%，将割下的作物堆放在高燥处并遮盖，疏通田间排水沟，推迟灌溉和喷药。",
		}},
		levels: map[string]map[string]string{
			"Heavy rain":      {"ur": "شدید بارش", "zh": "大雨"},
			"Very heavy rain": {"ur": "انتہائی شدید بارش", "zh": "暴雨"},
		},
	},
	AdvisoryHeatAtFlowering: {
		headline: map[string]string{
			"en": "{{if .Cancel}}Heat advisory for flowering %CROP% ended: {{.Station}}{{else}}%LEVEL% for flowering %CROP%: {{.Quantity}} at {{.Station}}{{end}}",
			"ur": "{{if .Cancel}}{{.Station}}: پھول والی %CROP% کے لیے گرمی کی ایڈوائزری ختم{{else}}پھول والی %CROP% کے لیے %LEVEL%: {{.Station}} پر {{.Quantity}}{{end}}",
			"zh": "{{if .Cancel}}{{.Station}}：开花期%CROP%高温提示解除{{else}}开花期%CROP%%LEVEL%：{{.Station}}气温{{.Quantity}}{{end}}",
		},
		description: map[string]string{
			"en": "{{.Station}} measured {{.Quantity}} at {{.ObservedAt}}{{if not .Cancel}}, while %CROP% is flowering: %LEVEL%{{end}}.",
			"ur": "{{.Station}} پر {{.ObservedAt}} کو درجۂ حرارت {{.Quantity}} ریکارڈ ہوا{{if not .Cancel}}، جبکہ %CROP% پر پھول آ رہے ہیں: %LEVEL%{{end}}۔",
			"zh": "{{.Station}}于{{.ObservedAt}}测得气温{{.Quantity}}{{if not .Cancel}}，正值%CROP%开花期：%LEVEL%{{end}}。",
		},
		instruction: map[string]map[string]string{"farmers": {
			"en": "Irrigate lightly in the evening to cool the crop, do not let the field dry out while the %CROP% flowers, and do not spray in the heat of the day.",
			"ur": "فصل کو ٹھنڈا رکھنے کے لیے شام کو ہلکی آبپاشی کریں، %CROP% پر پھول آنے کے دوران کھیت کو خشک نہ ہونے دیں، اور دن کی گرمی میں سپرے نہ کریں۔",
			"zh": "傍晚轻灌为作物降温，%CROP%开花期间不要让田地干旱，不要在一天最热时喷药。",
		}},
		levels: map[string]map[string]string{
			"Heat stress":        {"ur": "گرمی کا دباؤ", "zh": "高温胁迫"},
			"Severe heat stress": {"ur": "شدید گرمی کا دباؤ", "zh": "严重高温胁迫"},
		},
	},
	AdvisoryFrost: {
		headline: map[string]string{
			"en": "{{if .Cancel}}Frost advisory for %CROP% ended: {{.Station}}{{else}}%LEVEL% for %CROP%: {{.Quantity}} at {{.Station}}{{end}}",
			"ur": "{{if .Cancel}}{{.Station}}: %CROP% کے لیے کہر کی ایڈوائزری ختم{{else}}%CROP% کے لیے %LEVEL%: {{.Station}} پر {{.Quantity}}{{end}}",
			"zh": "{{if .Cancel}}{{.Station}}：%CROP%霜冻提示解除{{else}}%CROP%%LEVEL%：{{.Station}}气温{{.Quantity}}{{end}}",
		},
		description: map[string]string{
			"en": "{{.Station}} measured {{.Quantity}} at {{.ObservedAt}}{{if not .Cancel}}: %LEVEL% for %CROP% in the field{{end}}.",
			"ur": "{{.Station}} پر {{.ObservedAt}} کو درجۂ حرارت {{.Quantity}} ریکارڈ ہوا{{if not .Cancel}}: کھیت میں کھڑی %CROP% کے لیے %LEVEL%{{end}}۔",
			"zh": "{{.Station}}于{{.ObservedAt}}测得气温{{.Quantity}}{{if not .Cancel}}：田间%CROP%%LEVEL%{{end}}。",
		},
		instruction: map[string]map[string]string{"farmers": {
			"en": "Irrigate lightly in the evening before a frosty night, cover nurseries and young plants, and hold back fertiliser until the frost has passed.",
			"ur": "کہر والی رات سے پہلے شام کو ہلکی آبپاشی کریں، نرسری اور چھوٹے پودوں کو ڈھانپیں، اور کہر گزرنے تک کھاد نہ ڈالیں۔",
			"zh": "霜冻夜晚前傍晚轻灌，覆盖苗床和幼苗，霜冻过后再施肥。",
		}},
		levels: map[string]map[string]string{
			"Frost risk": {"ur": "کہر کا خطرہ", "zh": "霜冻风险"},
			"Frost":      {"ur": "کہر", "zh": "霜冻"},
		},
	},
}

// airText builds an air-quality advisory's texts for one index, named in each language.
func airText(en, ur, zh string, levels map[string]map[string]string) advisoryText {
	return advisoryText{
		headline: map[string]string{
			"en": "{{if .Cancel}}Air quality advisory ended: {{.Station}}{{else}}Air quality %LEVEL%: PM2.5 {{.Quantity}} at {{.Station}}{{end}}",
			"ur": "{{if .Cancel}}{{.Station}}: فضائی معیار کی ایڈوائزری ختم{{else}}فضائی معیار %LEVEL%: {{.Station}} پر پی ایم 2.5 {{.Quantity}}{{end}}",
			"zh": "{{if .Cancel}}{{.Station}}：空气质量提示解除{{else}}空气质量%LEVEL%：{{.Station}} PM2.5 {{.Quantity}}{{end}}",
		},
		description: map[string]string{
			"en": "PM2.5 at {{.Station}} was {{.Quantity}} at {{.ObservedAt}} (hourly value, for three hours){{if not .Cancel}}: %LEVEL% on the " + en + " scale{{end}}.",
			"ur": "{{.Station}} پر {{.ObservedAt}} کو پی ایم 2.5 {{.Quantity}} تھا (گھنٹہ وار، تین گھنٹے تک){{if not .Cancel}}: " + ur + " کے پیمانے پر %LEVEL%{{end}}۔",
			"zh": "{{.Station}}于{{.ObservedAt}}的PM2.5为{{.Quantity}}（小时值，持续三小时）{{if not .Cancel}}：按" + zh + "为%LEVEL%{{end}}。",
		},
		instruction: map[string]map[string]string{
			"public": {
				"en": "Spend less time outdoors and avoid hard exertion; people with heart or lung disease, older adults, children and pregnant women should stay indoors with windows closed. Outdoors, wear a well-fitting N95 mask.",
				"ur": "باہر کم وقت گزاریں اور سخت مشقت سے بچیں؛ دل یا پھیپھڑوں کے مریض، بزرگ، بچے اور حاملہ خواتین کھڑکیاں بند کر کے گھر کے اندر رہیں۔ باہر اچھی طرح فٹ ہونے والا این 95 ماسک پہنیں۔",
				"zh": "减少户外停留，避免剧烈运动；心肺疾病患者、老人、儿童和孕妇应留在室内并关闭门窗。外出请佩戴贴合的N95口罩。",
			},
			"schools": {
				"en": "Move sports and assemblies indoors, keep windows closed, make sure children with asthma have their medicines at hand; at Very Unhealthy or worse, consider closing for the day.",
				"ur": "کھیل اور اسمبلی کمروں کے اندر کریں، کھڑکیاں بند رکھیں، دمے کے مریض بچوں کی دوائیں پاس رکھیں؛ انتہائی مضر صحت یا اس سے بدتر ہو تو اس دن اسکول بند کرنے پر غور کریں۔",
				"zh": "将体育活动和集会移至室内，关闭门窗，确保哮喘儿童随身带药；达到非常不健康或更差时，考虑当天停课。",
			},
		},
		levels: levels,
	}
}

// advisoryTemplates writes the rule templates of one audience: %LEVEL% becomes a choice over
// the levels' names in the language (the rule's level name, as .Level gives it untranslated,
// picks the text; a name the node's names table translates is written as translated), %CROP%
// the crop in the language.
func advisoryTemplates(t advisoryText, aud string, levels []Level, crop string) map[string]Template {
	out := map[string]Template{}
	for _, lang := range []string{"en", "ur", "zh"} {
		var b strings.Builder
		names := make([]string, 0, len(levels))
		for _, l := range levels {
			names = append(names, l.Name)
		}
		sort.Strings(names)
		for i, n := range names {
			if i == 0 {
				b.WriteString("{{if eq .Level " + quote(n) + "}}")
			} else {
				b.WriteString("{{else if eq .Level " + quote(n) + "}}")
			}
			s := t.levels[n][lang]
			if s == "" {
				s = n
			}
			b.WriteString(s)
		}
		b.WriteString("{{else}}{{.Level}}{{end}}")
		r := strings.NewReplacer("%LEVEL%", b.String(), "%CROP%", crops[crop][lang])
		instr := t.instruction[aud][lang]
		if instr == "" {
			instr = t.instruction["public"][lang]
		}
		if instr == "" {
			instr = t.instruction["farmers"][lang]
		}
		if instr == "" {
			instr = heatPublic[lang]
		}
		out[lang] = Template{Headline: r.Replace(t.headline[lang]), Description: r.Replace(t.description[lang]), Instruction: r.Replace(instr)}
	}
	return out
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
