from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("kyc.urls")),
    path("", include("webhooks.urls")),
    path("", include("billing.urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/innovatif/", include("sandbox.urls")))
if settings.BENCH_FLOOR_ENABLED:
    urlpatterns.append(path("api/bench/", include("bench.floor_urls")))

# Anything else under /api/ is a JSON 404, even with DEBUG on.
urlpatterns.append(re_path(r"^api/", views.api_not_found))

handler404 = "truestack.views.handler404"
handler500 = "truestack.views.handler500"
